"""Alexa request verification (sources.md#alexa-web-service): headers, cert URL, chain to a root, signature, time.

Follows the contract of ask-sdk-webservice-support 1.3.3 (same rules, tolerances and
`verify(headers, raw body, envelope)` shape) without importing it: its import fails on OpenSSL 3.0.10
and later (see docs/verification.md).
Chain validation uses `cryptography.x509.verification` against a root store (LETDOWN_CA_BUNDLE or certifi).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
import re
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import certifi
import requests
import urllib3
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509 import verification as x509_verification
from werkzeug.datastructures import Headers

from skill.config import ConfigError

# A request's headers: werkzeug's (case-insensitive) or a plain mapping.
HeaderSource = Mapping[str, Any] | Headers

log = logging.getLogger(__name__)

SIGNATURE_CERT_CHAIN_URL_HEADER = "SignatureCertChainUrl"
SIGNATURE_HEADER = "Signature-256"
CERT_URL_SCHEME = "https"
CERT_URL_HOST = "s3.amazonaws.com"
CERT_URL_PORT = "443"
CERT_URL_PATH_PREFIX = "/echo.api/"
CERT_CHAIN_DOMAIN = "echo-api.amazon.com"
# Same tolerances as ask-sdk-webservice-support's TimestampVerifier (150 000 ms / 3 600 000 ms).
MAX_NORMAL_REQUEST_TOLERANCE_SECONDS = 150
MAX_SKILL_EVENT_TOLERANCE_SECONDS = 3600
SKILL_EVENT_PREFIX = "AlexaSkillEvent."
MAX_FETCH_TIMEOUT_SECONDS = 2.0
MAX_CHAIN_BYTES = 64 * 1024
MAX_CHAIN_CERTS = 8
MAX_CERT_URL_LENGTH = 2048
MAX_TIMESTAMP_LENGTH = 64
CACHE_MAX_ENTRIES = 32
CACHE_MAX_AGE_SECONDS = 24 * 3600
# Chain files looked up in LETDOWN_CERT_CHAIN_DIR: one plain name, no separators, no leading dot.
SAFE_CHAIN_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
PEM_CERTIFICATE_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)

ChainFetcher = Callable[[str, float, int], bytes]
"""`fetch(url, timeout_seconds, max_bytes) -> PEM bytes`; raises VerificationError (or anything) to fail."""


class VerificationError(Exception):
    """A request failed verification; `reason` is short and safe to send back to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CertChainUrl:
    """A SignatureCertChainUrl that passed the rules, rebuilt in canonical form (the form that is fetched)."""

    url: str
    file_name: str


@dataclass(frozen=True)
class TrustedSigner:
    """The outcome of a validated chain: the key that signs requests, and until when it may be trusted."""

    public_key: rsa.RSAPublicKey
    expires_at: float


# --- headers --------------------------------------------------------------------------------------


def header_value(headers: HeaderSource, name: str) -> str | None:
    """Case-insensitive header lookup that works for werkzeug headers and plain dicts alike."""
    wanted = name.lower()
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == wanted:
            if not isinstance(value, str) or not value.strip():
                return None
            return value.strip()
    return None


def decode_signature(value: str) -> bytes:
    try:
        signature = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise VerificationError("Signature-256 header is not valid base64") from None
    if not signature:
        raise VerificationError("Signature-256 header is empty")
    return signature


# --- cert URL -------------------------------------------------------------------------------------


def remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 for an absolute path: resolves `.` and `..`; `..` never climbs above the root."""
    segments = path.split("/")
    last = len(segments) - 1
    output: list[str] = []
    for index, segment in enumerate(segments):
        if segment in (".", ".."):
            if segment == ".." and len(output) > 1:
                output.pop()
            if index == last:
                output.append("")
            continue
        output.append(segment)
    return "/".join(output)


def parse_cert_chain_url(raw: str) -> CertChainUrl:
    """Apply Amazon's cert URL rules; returns the canonical URL or raises VerificationError.

    Percent-encoding is refused outright: Amazon's chain URLs never use it, and S3 decodes `%2e%2e`/`%2f`,
    so a check made on the encoded path could be walked around (`/echo.api/%2e%2e/evil`).
    """
    if len(raw) > MAX_CERT_URL_LENGTH or not all(33 <= ord(char) <= 126 for char in raw) or "\\" in raw:
        raise VerificationError("certificate URL is malformed")
    if "%" in raw:
        raise VerificationError("certificate URL must not be percent-encoded")
    try:
        parts = urlsplit(raw)
    except ValueError:
        raise VerificationError("certificate URL is malformed") from None
    if parts.scheme.lower() != CERT_URL_SCHEME:
        raise VerificationError("certificate URL must use https")
    host, colon, port = parts.netloc.lower().partition(":")
    if host != CERT_URL_HOST:
        raise VerificationError("certificate URL host must be s3.amazonaws.com")
    if colon and port != CERT_URL_PORT:
        raise VerificationError("certificate URL port must be 443")
    if "?" in raw or "#" in raw:
        raise VerificationError("certificate URL must not have a query or fragment")
    path = remove_dot_segments(parts.path)
    if not path.startswith(CERT_URL_PATH_PREFIX):
        raise VerificationError("certificate URL path must start with /echo.api/")
    file_name = path.rsplit("/", 1)[1]
    if not file_name:
        raise VerificationError("certificate URL names no file")
    return CertChainUrl(url=f"{CERT_URL_SCHEME}://{CERT_URL_HOST}{path}", file_name=file_name)


# --- fetching -------------------------------------------------------------------------------------


def download_chain(url: str, timeout: float, max_bytes: int) -> bytes:
    """GET a chain: no redirects, no compression, at most `max_bytes`, given up once `timeout` has passed.

    Only ever called with a URL that passed `parse_cert_chain_url` (the verifier guarantees it). Connect and
    each socket read may take half of `timeout`, and reads use `read1` so that the deadline is checked after
    every packet: even a server that drips bytes cannot hold the request past 1.5 × `timeout` (3 s by
    default), well inside the 8 s Alexa waits for the whole answer.
    """
    deadline = time.monotonic() + timeout
    try:
        with requests.get(
            url,
            timeout=(timeout / 2, timeout / 2),
            allow_redirects=False,
            stream=True,
            headers={"Accept-Encoding": "identity"},
        ) as response:
            if response.status_code != 200:
                raise VerificationError("certificate chain could not be downloaded")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise VerificationError("certificate chain is too large")
            received = bytearray()
            while chunk := response.raw.read1(8192):
                received += chunk
                if len(received) > max_bytes:
                    raise VerificationError("certificate chain is too large")
                if time.monotonic() > deadline:
                    raise VerificationError("certificate chain download timed out")
            return bytes(received)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError):
        raise VerificationError("certificate chain could not be downloaded") from None


# --- chain validation -----------------------------------------------------------------------------


def load_root_store(ca_bundle: Path | None) -> x509_verification.Store:
    """Trusted roots, one PEM block at a time: a root that `cryptography` cannot parse is skipped (certifi
    carries one with a non-RFC serial) rather than making the whole bundle unusable."""
    bundle = ca_bundle or Path(certifi.where())
    try:
        blocks = PEM_CERTIFICATE_BLOCK.findall(bundle.read_bytes())
    except OSError as error:
        raise ConfigError(f"LETDOWN_CA_BUNDLE {bundle} cannot be read: {error}") from None
    roots = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        for block in blocks:
            try:
                roots.append(x509.load_pem_x509_certificate(block))
            except ValueError:
                log.info("skipping a root in %s that cannot be parsed", bundle)
    if not roots:
        raise ConfigError(f"LETDOWN_CA_BUNDLE {bundle} holds no PEM certificates")
    return x509_verification.Store(roots)


def signing_cert_policies() -> tuple[x509_verification.ExtensionPolicy, x509_verification.ExtensionPolicy]:
    """Web PKI defaults, except that the signing cert's extended key usage is not required to be serverAuth:
    the cert signs requests rather than serving TLS, and Amazon has re-issued it several times."""
    ca_policy = x509_verification.ExtensionPolicy.webpki_defaults_ca()
    ee_policy = x509_verification.ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.ExtendedKeyUsage, x509_verification.Criticality.AGNOSTIC, None
    )
    return ca_policy, ee_policy


def parse_chain(pem: bytes) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError:
        raise VerificationError("certificate chain is not valid PEM") from None
    if not certs:
        raise VerificationError("certificate chain is empty")
    if len(certs) > MAX_CHAIN_CERTS:
        raise VerificationError("certificate chain has too many certificates")
    return certs


def check_signing_cert(cert: x509.Certificate, now: dt.datetime) -> rsa.RSAPublicKey:
    """The checks with their own 400 reasons: validity dates, the echo-api SAN, key usage and key type."""
    if now < cert.not_valid_before_utc:
        raise VerificationError("signing certificate is not yet valid")
    if now > cert.not_valid_after_utc:
        raise VerificationError("signing certificate has expired")
    try:
        extensions = cert.extensions
        san = extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [name.lower() for name in san.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        names = []
    except ValueError:
        raise VerificationError("signing certificate has malformed extensions") from None
    if CERT_CHAIN_DOMAIN not in names:
        raise VerificationError("signing certificate lacks the echo-api.amazon.com subjectAltName")
    try:
        key_usage = extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        key_usage = None
    if key_usage is not None and not key_usage.digital_signature:
        raise VerificationError("signing certificate may not be used for signatures")
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise VerificationError("signing certificate key is not RSA")
    return public_key


# --- timestamp and application id -----------------------------------------------------------------


def request_time_seconds(value: Any) -> float:
    """`request.timestamp` as epoch seconds: ISO 8601 (`Z` or an offset; no offset means UTC) or epoch ms."""
    if isinstance(value, bool):
        raise VerificationError("request timestamp is not a valid time")
    try:
        if isinstance(value, int):
            return value / 1000
        if isinstance(value, str) and len(value) <= MAX_TIMESTAMP_LENGTH:
            if value.isascii() and value.isdigit():
                return int(value) / 1000
            moment = dt.datetime.fromisoformat(value)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)
            return moment.timestamp()
    except (ValueError, OverflowError):
        pass
    raise VerificationError("request timestamp is not a valid time")


def check_timestamp(envelope: Mapping[str, Any], now: float) -> None:
    request = envelope.get("request")
    if not isinstance(request, Mapping):
        raise VerificationError("request has no timestamp")
    sent_at = request_time_seconds(request.get("timestamp"))
    request_type = request.get("type")
    is_skill_event = isinstance(request_type, str) and request_type.startswith(SKILL_EVENT_PREFIX)
    tolerance = MAX_SKILL_EVENT_TOLERANCE_SECONDS if is_skill_event else MAX_NORMAL_REQUEST_TOLERANCE_SECONDS
    if abs(now - sent_at) > tolerance:
        raise VerificationError("request timestamp is too far from the current time")


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def check_application_id(envelope: Mapping[str, Any], skill_ids: frozenset[str]) -> None:
    """The envelope's application id must equal a configured skill id exactly; none configured → accept."""
    if not skill_ids:
        return
    context_id = _dig(envelope, "context", "System", "application", "applicationId")
    if not isinstance(context_id, str):
        raise VerificationError("request has no application id")
    if context_id not in skill_ids:
        raise VerificationError("application id does not match this skill")
    session_id = _dig(envelope, "session", "application", "applicationId")
    if session_id is not None and session_id != context_id:
        raise VerificationError("application id does not match this skill")


# --- cache ----------------------------------------------------------------------------------------


class ChainCache:
    """Validated chains by canonical URL: LRU-bounded, each entry dropped at its `expires_at`; thread-safe."""

    def __init__(self, max_entries: int, clock: Callable[[], float]) -> None:
        self._entries: OrderedDict[str, TrustedSigner] = OrderedDict()
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()

    def get(self, url: str) -> TrustedSigner | None:
        with self._lock:
            signer = self._entries.get(url)
            if signer is None:
                return None
            if self._clock() >= signer.expires_at:
                del self._entries[url]
                return None
            self._entries.move_to_end(url)
            return signer

    def put(self, url: str, signer: TrustedSigner) -> None:
        with self._lock:
            self._entries[url] = signer
            self._entries.move_to_end(url)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, url: object) -> bool:
        with self._lock:
            return url in self._entries


# --- the verifier ---------------------------------------------------------------------------------


class RequestVerifier:
    """Checks that a request really comes from Alexa; ask-sdk's `verify(headers, body, envelope)` contract."""

    def __init__(
        self,
        *,
        ca_bundle: Path | None = None,
        cert_chain_dir: Path | None = None,
        fetch_timeout: float = MAX_FETCH_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.time,
        fetch: ChainFetcher = download_chain,
        cache_size: int = CACHE_MAX_ENTRIES,
    ) -> None:
        if not 0 < fetch_timeout <= MAX_FETCH_TIMEOUT_SECONDS:
            raise ValueError(f"fetch_timeout must be in (0, {MAX_FETCH_TIMEOUT_SECONDS}] seconds")
        self._store = load_root_store(ca_bundle)
        self._ca_policy, self._ee_policy = signing_cert_policies()
        self._cert_chain_dir = cert_chain_dir
        self._fetch_timeout = fetch_timeout
        self._clock = clock
        self._fetch = fetch
        self.cache = ChainCache(cache_size, clock)

    def verify(self, headers: HeaderSource, body: bytes, envelope: Mapping[str, Any]) -> None:
        """Raises VerificationError with a short reason unless every rule of sources.md#alexa-web-service holds."""
        chain_url_header = header_value(headers, SIGNATURE_CERT_CHAIN_URL_HEADER)
        if chain_url_header is None:
            raise VerificationError("missing SignatureCertChainUrl header")
        signature_header = header_value(headers, SIGNATURE_HEADER)
        if signature_header is None:
            raise VerificationError("missing Signature-256 header")
        chain_url = parse_cert_chain_url(chain_url_header)
        signature = decode_signature(signature_header)
        signer = self.trusted_signer(chain_url)
        try:
            signer.public_key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise VerificationError("signature does not match the body") from None
        check_timestamp(envelope, self._clock())

    def trusted_signer(self, chain_url: CertChainUrl) -> TrustedSigner:
        cached = self.cache.get(chain_url.url)
        if cached is not None:
            return cached
        signer = self._validate_chain(self._load_chain(chain_url))
        self.cache.put(chain_url.url, signer)
        return signer

    def _load_chain(self, chain_url: CertChainUrl) -> bytes:
        local = self._local_chain_file(chain_url)
        if local is not None:
            try:
                if local.stat().st_size > MAX_CHAIN_BYTES:
                    raise VerificationError("certificate chain is too large")
                return local.read_bytes()
            except OSError:
                raise VerificationError("certificate chain could not be read") from None
        try:
            pem = self._fetch(chain_url.url, self._fetch_timeout, MAX_CHAIN_BYTES)
        except VerificationError:
            raise
        except Exception:  # an injected fetcher may raise anything; the client only learns that it failed
            log.warning("certificate chain download failed for %s", chain_url.url, exc_info=True)
            raise VerificationError("certificate chain could not be downloaded") from None
        if len(pem) > MAX_CHAIN_BYTES:
            raise VerificationError("certificate chain is too large")
        return pem

    def _local_chain_file(self, chain_url: CertChainUrl) -> Path | None:
        if self._cert_chain_dir is None or not SAFE_CHAIN_FILE_NAME.fullmatch(chain_url.file_name):
            return None
        candidate = self._cert_chain_dir / chain_url.file_name
        return candidate if candidate.is_file() else None

    def _validate_chain(self, pem: bytes) -> TrustedSigner:
        now_seconds = self._clock()
        now = dt.datetime.fromtimestamp(now_seconds, dt.UTC)
        signing_cert, *intermediates = parse_chain(pem)
        public_key = check_signing_cert(signing_cert, now)
        verifier = (
            x509_verification.PolicyBuilder()
            .store(self._store)
            .time(now)
            .extension_policies(ca_policy=self._ca_policy, ee_policy=self._ee_policy)
            .build_server_verifier(x509.DNSName(CERT_CHAIN_DOMAIN))
        )
        try:
            verified_chain = verifier.verify(signing_cert, intermediates)
        except (x509_verification.VerificationError, ValueError) as error:
            log.warning("certificate chain rejected: %s", error)
            raise VerificationError("certificate chain does not lead to a trusted root") from None
        # Trust ends when any certificate of the verified path expires, and after a day at most.
        expires_at = min(
            [cert.not_valid_after_utc.timestamp() for cert in verified_chain] + [now_seconds + CACHE_MAX_AGE_SECONDS]
        )
        return TrustedSigner(public_key=public_key, expires_at=expires_at)
