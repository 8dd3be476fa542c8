"""Test support: a test PKI, Alexa envelope builders and signer, and real WSGI servers."""
