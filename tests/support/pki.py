"""A test PKI shaped like Amazon's: root → intermediate → signing cert, plus every broken variant.

Chains are written as `<variant>.pem` into a folder used as LETDOWN_CERT_CHAIN_DIR, so the service finds
`https://s3.amazonaws.com/echo.api/<variant>.pem` there instead of downloading it.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SIGNING_SAN = "echo-api.amazon.com"
CHAIN_URL_BASE = "https://s3.amazonaws.com/echo.api/"
LEAF_VARIANTS = (
    "valid",
    "expired",
    "not_yet_valid",
    "wrong_san",
    "no_san",
    "self_signed",
    "untrusted_root",
    "missing_intermediate",
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Let-Down Helper Test PKI"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


@dataclass(frozen=True)
class Issuer:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey


@dataclass(frozen=True)
class SigningIdentity:
    variant: str
    key: rsa.RSAPrivateKey
    chain: tuple[x509.Certificate, ...]  # signing cert first, then intermediates

    def chain_pem(self) -> bytes:
        return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in self.chain)

    def sign(self, body: bytes) -> str:
        signature = self.key.sign(body, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()


def _ca(common_name: str, key: rsa.RSAPrivateKey, issuer: Issuer | None, path_length: int | None) -> Issuer:
    now = _now()
    subject = _name(common_name)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=30))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    signer = issuer or Issuer(cert=None, key=key)  # type: ignore[arg-type]
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    return Issuer(cert=builder.sign(signer.key, hashes.SHA256()), key=key)


def _leaf(
    issuer: Issuer | None,
    key: rsa.RSAPrivateKey,
    san: str | None,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.Certificate:
    subject = _name(san or "no-san.example")
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    return builder.sign(issuer.key if issuer else key, hashes.SHA256())


class TestPKI:
    """Builds the roots, intermediates and signing identities, and writes the files the service reads."""

    __test__ = False  # not a pytest test class

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.chain_dir = directory / "chains"
        self.chain_dir.mkdir(parents=True, exist_ok=True)
        self.root = _ca("Test Root CA", _key(), None, path_length=1)
        self.intermediate = _ca("Test Intermediate CA", _key(), self.root, path_length=0)
        self.untrusted_root = _ca("Untrusted Root CA", _key(), None, path_length=1)
        self.untrusted_intermediate = _ca("Untrusted Intermediate CA", _key(), self.untrusted_root, 0)
        self.ca_bundle = directory / "ca-bundle.pem"
        self.ca_bundle.write_bytes(self.root.cert.public_bytes(serialization.Encoding.PEM))
        self.identities = {variant: self._identity(variant) for variant in LEAF_VARIANTS}
        for identity in self.identities.values():
            (self.chain_dir / f"{identity.variant}.pem").write_bytes(identity.chain_pem())

    def _identity(self, variant: str) -> SigningIdentity:
        key = _key()
        now = _now()
        valid_from, valid_to = now - dt.timedelta(days=1), now + dt.timedelta(days=60)
        issuer, intermediates, san = self.intermediate, (self.intermediate.cert,), SIGNING_SAN
        if variant == "expired":
            valid_from, valid_to = now - dt.timedelta(days=90), now - dt.timedelta(days=1)
        elif variant == "not_yet_valid":
            valid_from, valid_to = now + dt.timedelta(days=1), now + dt.timedelta(days=90)
        elif variant == "wrong_san":
            san = "not-echo-api.example.com"
        elif variant == "no_san":
            san = None
        elif variant == "self_signed":
            issuer, intermediates = None, ()
        elif variant == "untrusted_root":
            issuer, intermediates = self.untrusted_intermediate, (self.untrusted_intermediate.cert,)
        elif variant == "missing_intermediate":
            intermediates = ()
        leaf = _leaf(issuer, key, san, valid_from, valid_to)
        return SigningIdentity(variant=variant, key=key, chain=(leaf, *intermediates))

    def chain_url(self, variant: str = "valid") -> str:
        return f"{CHAIN_URL_BASE}{variant}.pem"

    def headers(self, body: bytes, variant: str = "valid") -> dict[str, str]:
        """The two signature headers Alexa sends, for `body` signed by the named identity."""
        return {
            "SignatureCertChainUrl": self.chain_url(variant),
            "Signature-256": self.identities[variant].sign(body),
        }
