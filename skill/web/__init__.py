"""The HTTP service: app factory, /alexa view, request verification, /audio, the request log."""
