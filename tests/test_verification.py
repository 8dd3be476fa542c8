"""Alexa request verification (sources.md#alexa-web-service), over real HTTP through the live app and a test PKI.

Every rule has an accepted and a rejected case. The last part tests the verifier object directly: its chain
cache (with an injected clock) and its download path. Amazon's S3 cannot be reached from here, so downloads
go to a local plain-HTTP stand-in or to an injected/monkeypatched fetch; each such test says so.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from skill.config import ConfigError
from skill.web.verification import (
    CACHE_MAX_AGE_SECONDS,
    MAX_CHAIN_BYTES,
    MAX_FETCH_TIMEOUT_SECONDS,
    ChainCache,
    RequestVerifier,
    TrustedSigner,
    VerificationError,
    check_application_id,
    check_timestamp,
    download_chain,
    header_value,
    parse_cert_chain_url,
    remove_dot_segments,
)
from tests.support.alexa import TEST_SKILL_ID, AlexaClient, envelope, new_session
from tests.support.pki import LEAF_VARIANTS, TestPKI
from tests.support.server import threaded_server

ECHO_CERT_URL = "https://s3.amazonaws.com/echo.api/echo-api-cert.pem"
CHAIN_REASON = "certificate chain does not lead to a trusted root"
SAN_REASON = "signing certificate lacks the echo-api.amazon.com subjectAltName"
VARIANT_REASONS = {
    "valid": None,
    "expired": "signing certificate has expired",
    "not_yet_valid": "signing certificate is not yet valid",
    "wrong_san": SAN_REASON,
    "no_san": SAN_REASON,
    "self_signed": CHAIN_REASON,
    "untrusted_root": CHAIN_REASON,
    "missing_intermediate": CHAIN_REASON,
}


def session_end(**envelope_options: Any) -> dict[str, Any]:
    """A request the lifecycle handler answers with an empty 200, so these tests need no conversation code."""
    return envelope({"type": "SessionEndedRequest", "reason": "USER_INITIATED"}, new_session(), **envelope_options)


def encode(built: dict[str, Any]) -> bytes:
    return json.dumps(built).encode()


def signed_headers(pki: TestPKI, body: bytes, url: str, variant: str = "valid") -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "SignatureCertChainUrl": url,
        "Signature-256": pki.identities[variant].sign(body),
    }


def assert_rejected(reply: requests.Response, reason: str, status: int = 400) -> None:
    assert reply.status_code == status, reply.text
    assert reply.json() == {"error": reason}


def assert_accepted(reply: requests.Response) -> None:
    assert reply.status_code == 200, reply.text
    assert reply.json()["version"] == "1.0"


@pytest.fixture
def serve(make_app: Callable[..., Flask]) -> Iterator[Callable[..., AlexaClient]]:
    """Starts live apps with environment overrides; yields a factory of clients (stopped at teardown)."""
    with ExitStack() as servers:

        def start(pki: TestPKI | None = None, **overrides: str) -> AlexaClient:
            base_url = servers.enter_context(threaded_server(make_app(**overrides)))
            return AlexaClient(base_url=base_url, pki=pki)

        yield start


@pytest.fixture
def echo_cert_client(serve: Callable[..., AlexaClient], pki: TestPKI, tmp_path: Path) -> AlexaClient:
    """A live app whose chain folder holds the valid chain under Amazon's file name `echo-api-cert.pem`."""
    chain_dir = tmp_path / "echo-chains"
    chain_dir.mkdir()
    shutil.copy(pki.chain_dir / "valid.pem", chain_dir / "echo-api-cert.pem")
    return serve(pki, LETDOWN_CERT_CHAIN_DIR=str(chain_dir))


# --- headers -----------------------------------------------------------------------------------------------


def test_signed_request_is_accepted(alexa: AlexaClient) -> None:
    assert_accepted(alexa.send(session_end()))


@pytest.mark.parametrize("missing", ["SignatureCertChainUrl", "Signature-256"])
def test_missing_header_is_rejected(alexa: AlexaClient, pki: TestPKI, missing: str) -> None:
    body = encode(session_end())
    headers = signed_headers(pki, body, pki.chain_url())
    del headers[missing]
    assert_rejected(alexa.post_raw(body, headers), f"missing {missing} header")


def test_header_names_are_case_insensitive(alexa: AlexaClient, pki: TestPKI) -> None:
    body = encode(session_end())
    headers = signed_headers(pki, body, pki.chain_url())
    lowered = {name.lower(): value for name, value in headers.items()}
    assert_accepted(alexa.post_raw(body, lowered))


def test_header_value_lookup_accepts_plain_dicts_in_any_case() -> None:
    headers = {"signaturecertchainurl": " https://x ", "SIGNATURE-256": "abc", "Empty": "  "}
    assert header_value(headers, "SignatureCertChainUrl") == "https://x"
    assert header_value(headers, "Signature-256") == "abc"
    assert header_value(headers, "Empty") is None
    assert header_value(headers, "Absent") is None


# --- cert URL ----------------------------------------------------------------------------------------------

VALID_CERT_URLS = [
    "https://s3.amazonaws.com/echo.api/echo-api-cert.pem",
    "https://s3.amazonaws.com:443/echo.api/echo-api-cert.pem",
    "https://s3.amazonaws.com/echo.api/../echo.api/echo-api-cert.pem",
    "HTTPS://s3.amazonaws.com/echo.api/echo-api-cert.pem",
    "https://S3.AMAZONAWS.COM/echo.api/echo-api-cert.pem",
    "https://s3.amazonaws.com/echo.api/./echo-api-cert.pem",
]

SCHEME = "certificate URL must use https"
HOST = "certificate URL host must be s3.amazonaws.com"
PORT = "certificate URL port must be 443"
PATH = "certificate URL path must start with /echo.api/"
ENCODED = "certificate URL must not be percent-encoded"
QUERY = "certificate URL must not have a query or fragment"
MALFORMED = "certificate URL is malformed"
S3 = "https://s3.amazonaws.com"

INVALID_CERT_URLS = [
    ("http://s3.amazonaws.com/echo.api/echo-api-cert.pem", SCHEME),
    ("s3.amazonaws.com/echo.api/echo-api-cert.pem", SCHEME),
    ("https://notamazon.com/echo.api/echo-api-cert.pem", HOST),
    ("https://s3.amazonaws.com.evil.test/echo.api/echo-api-cert.pem", HOST),
    ("https://s3.amazonaws.com@evil.test/echo.api/echo-api-cert.pem", HOST),
    ("https://evil.test@s3.amazonaws.com/echo.api/echo-api-cert.pem", HOST),
    ("https://s3.amazonaws.com:563/echo.api/echo-api-cert.pem", PORT),
    ("https://s3.amazonaws.com:/echo.api/echo-api-cert.pem", PORT),
    (f"{S3}/EcHo.aPi/echo-api-cert.pem", PATH),
    (f"{S3}/invalid.path/echo-api-cert.pem", PATH),
    (f"{S3}/echo.api/../evil/echo-api-cert.pem", PATH),
    (f"{S3}//echo.api/echo-api-cert.pem", PATH),
    (f"{S3}/echo.api/%2e%2e/evil/echo-api-cert.pem", ENCODED),
    (f"{S3}/echo.api/..%2Fevil%2Fecho-api-cert.pem", ENCODED),
    (f"{S3}/echo.api/echo-api-cert.pem?x=1", QUERY),
    (f"{S3}/echo.api/echo-api-cert.pem#x", QUERY),
    (f"{S3}/echo.api\\..\\evil\\echo-api-cert.pem", MALFORMED),
    (f"{S3}/echo.api/echo api.pem", MALFORMED),
    (f"{S3}/echo.api/", "certificate URL names no file"),
]


@pytest.mark.parametrize("url", VALID_CERT_URLS)
def test_amazons_valid_cert_url_examples_are_accepted(echo_cert_client: AlexaClient, pki: TestPKI, url: str) -> None:
    body = encode(session_end())
    assert_accepted(echo_cert_client.post_raw(body, signed_headers(pki, body, url)))


@pytest.mark.parametrize(("url", "reason"), INVALID_CERT_URLS)
def test_invalid_cert_urls_are_rejected(echo_cert_client: AlexaClient, pki: TestPKI, url: str, reason: str) -> None:
    # The valid chain sits in the folder under `echo-api-cert.pem`: only the URL rule can refuse these.
    body = encode(session_end())
    assert_rejected(echo_cert_client.post_raw(body, signed_headers(pki, body, url)), reason)


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        (
            "HTTPS://S3.AMAZONAWS.COM:443/echo.api/../echo.api/a.pem",
            "https://s3.amazonaws.com/echo.api/a.pem",
        ),
        ("https://s3.amazonaws.com/../echo.api/a.pem", "https://s3.amazonaws.com/echo.api/a.pem"),
        ("https://s3.amazonaws.com/echo.api/x/../a.pem", "https://s3.amazonaws.com/echo.api/a.pem"),
    ],
)
def test_cert_url_is_checked_and_fetched_in_canonical_form(url: str, canonical: str) -> None:
    parsed = parse_cert_chain_url(url)
    assert (parsed.url, parsed.file_name) == (canonical, "a.pem")


@pytest.mark.parametrize(
    ("path", "normalised"),
    [
        ("/echo.api/../echo.api/x", "/echo.api/x"),
        ("/echo.api/../evil/x", "/evil/x"),
        ("/../../echo.api/x", "/echo.api/x"),
        ("/echo.api/.", "/echo.api/"),
        ("/echo.api/..", "/"),
        ("/a/b/./c/../d", "/a/b/d"),
        ("", ""),
    ],
)
def test_remove_dot_segments_follows_rfc_3986(path: str, normalised: str) -> None:
    assert remove_dot_segments(path) == normalised


# --- the chain ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", LEAF_VARIANTS)
def test_each_pki_variant_gets_its_own_answer(alexa: AlexaClient, variant: str) -> None:
    reply = alexa.send(session_end(), variant=variant)
    reason = VARIANT_REASONS[variant]
    if reason is None:
        assert_accepted(reply)
    else:
        assert_rejected(reply, reason)


def test_chain_file_that_is_not_pem_is_rejected(
    serve: Callable[..., AlexaClient], pki: TestPKI, tmp_path: Path
) -> None:
    (tmp_path / "junk.pem").write_bytes(b"this is not a certificate")
    shutil.copy(pki.chain_dir / "valid.pem", tmp_path / "good.pem")
    client = serve(pki, LETDOWN_CERT_CHAIN_DIR=str(tmp_path))
    body = encode(session_end())
    url = "https://s3.amazonaws.com/echo.api/"
    assert_rejected(
        client.post_raw(body, signed_headers(pki, body, url + "junk.pem")),
        "certificate chain is not valid PEM",
    )
    assert_accepted(client.post_raw(body, signed_headers(pki, body, url + "good.pem")))


def test_chain_signed_by_another_trusted_identity_does_not_verify_this_body(alexa: AlexaClient, pki: TestPKI) -> None:
    # A real, trusted chain, but the body was signed by a different key (the expired identity's).
    body = encode(session_end())
    headers = signed_headers(pki, body, pki.chain_url("valid"), variant="expired")
    assert_rejected(alexa.post_raw(body, headers), "signature does not match the body")


# --- the signature -----------------------------------------------------------------------------------------


def test_signature_over_a_different_body_is_rejected(alexa: AlexaClient, pki: TestPKI) -> None:
    body, other = encode(session_end()), encode(session_end())
    assert body != other  # fresh request ids
    assert_rejected(
        alexa.post_raw(body, signed_headers(pki, other, pki.chain_url())), "signature does not match the body"
    )


def test_tampered_body_is_rejected(alexa: AlexaClient, pki: TestPKI) -> None:
    body = encode(session_end())
    headers = signed_headers(pki, body, pki.chain_url())
    tampered = body.replace(b'"en-US"', b'"en-GB"')
    assert tampered != body
    assert_rejected(alexa.post_raw(tampered, headers), "signature does not match the body")


def test_signature_is_over_the_raw_bytes_not_the_json(alexa: AlexaClient, pki: TestPKI) -> None:
    built = session_end()
    headers = signed_headers(pki, encode(built), pki.chain_url())
    reformatted = json.dumps(built, indent=2).encode()  # the same JSON value, other bytes
    assert_rejected(alexa.post_raw(reformatted, headers), "signature does not match the body")


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        ("!!! not base64 !!!", "Signature-256 header is not valid base64"),
        ("QUJD=extra", "Signature-256 header is not valid base64"),
        ("AAAA", "signature does not match the body"),
    ],
)
def test_garbage_signature_is_rejected(alexa: AlexaClient, pki: TestPKI, signature: str, reason: str) -> None:
    body = encode(session_end())
    headers = {**signed_headers(pki, body, pki.chain_url()), "Signature-256": signature}
    assert_rejected(alexa.post_raw(body, headers), reason)


# --- the timestamp -----------------------------------------------------------------------------------------

STALE = "request timestamp is too far from the current time"


@pytest.mark.parametrize("offset", [-140, 140])
def test_timestamp_within_150_seconds_is_accepted(alexa: AlexaClient, offset: int) -> None:
    assert_accepted(alexa.send(session_end(timestamp_offset=offset)))


@pytest.mark.parametrize("offset", [-160, 160])
def test_timestamp_beyond_150_seconds_is_rejected(alexa: AlexaClient, offset: int) -> None:
    assert_rejected(alexa.send(session_end(timestamp_offset=offset)), STALE)


def skill_disabled(offset_seconds: float) -> dict[str, Any]:
    built = envelope({"type": "AlexaSkillEvent.SkillDisabled"}, timestamp_offset=offset_seconds)
    built["request"]["body"] = {"userInformationPersistenceStatus": "NOT_PERSISTED"}
    return built


def test_skill_event_up_to_an_hour_old_is_accepted(alexa: AlexaClient) -> None:
    assert_accepted(alexa.send(skill_disabled(-50 * 60)))


def test_skill_event_older_than_an_hour_is_rejected(alexa: AlexaClient) -> None:
    assert_rejected(alexa.send(skill_disabled(-61 * 60)), STALE)


def test_unparseable_timestamp_is_rejected(alexa: AlexaClient) -> None:
    built = session_end()
    built["request"]["timestamp"] = "yesterday at noon"
    assert_rejected(alexa.send(built), "request timestamp is not a valid time")


@pytest.mark.parametrize(
    ("timestamp", "accepted"),
    [
        ("2030-01-01T12:00:00Z", True),
        ("2030-01-01T12:00:00.123456Z", True),
        ("2030-01-01T13:00:00+01:00", True),
        ("2030-01-01T12:00:00", True),  # no offset: read as UTC
        (1893499200000, True),  # epoch milliseconds, as some events carry
        ("1893499200000", True),
        ("2030-01-01T12:03:00Z", False),
        ("2030-01-01T12:00:00+01:00", False),
        (1893499200000 + 151_000, False),
        (True, False),
        (None, False),
        (10**400, False),
        ("", False),
        ("9" * 80, False),
    ],
)
def test_timestamp_forms(timestamp: Any, accepted: bool) -> None:
    noon_2030 = 1893499200.0
    built = {"request": {"type": "IntentRequest", "timestamp": timestamp}}
    if accepted:
        check_timestamp(built, noon_2030)
    else:
        with pytest.raises(VerificationError):
            check_timestamp(built, noon_2030)


# --- the application id ------------------------------------------------------------------------------------

WRONG_ID = "application id does not match this skill"


def test_wrong_application_id_is_rejected_and_right_one_accepted(alexa: AlexaClient) -> None:
    other = "amzn1.ask.skill.11111111-other-skill"
    wrong = envelope({"type": "SessionEndedRequest"}, new_session(skill_id=other), skill_id=other)
    assert_rejected(alexa.send(wrong), WRONG_ID)
    assert_accepted(alexa.send(session_end()))


def test_application_id_is_compared_exactly_not_as_a_substring(alexa: AlexaClient) -> None:
    for near_miss in (TEST_SKILL_ID[:-1], TEST_SKILL_ID + "x", TEST_SKILL_ID.upper()):
        built = envelope({"type": "SessionEndedRequest"}, new_session(skill_id=near_miss), skill_id=near_miss)
        assert_rejected(alexa.send(built), WRONG_ID)


def test_several_comma_separated_skill_ids(serve: Callable[..., AlexaClient], pki: TestPKI) -> None:
    second = "amzn1.ask.skill.22222222-second-skill"
    client = serve(pki, LETDOWN_SKILL_ID=f"amzn1.ask.skill.first , {second},{TEST_SKILL_ID}")
    for skill_id in (second, TEST_SKILL_ID):
        built = envelope({"type": "SessionEndedRequest"}, new_session(skill_id=skill_id), skill_id=skill_id)
        assert_accepted(client.send(built))
    stranger = "amzn1.ask.skill.33333333-stranger"
    built = envelope({"type": "SessionEndedRequest"}, new_session(skill_id=stranger), skill_id=stranger)
    assert_rejected(client.send(built), WRONG_ID)


def test_session_application_id_must_agree_with_the_context() -> None:
    built = session_end()
    built["session"]["application"]["applicationId"] = "amzn1.ask.skill.other"
    with pytest.raises(VerificationError, match="does not match"):
        check_application_id(built, frozenset({TEST_SKILL_ID}))
    check_application_id(built, frozenset())  # no ids configured: accept
    built["context"]["System"]["application"]["applicationId"] = ["not", "a", "string"]
    with pytest.raises(VerificationError, match="no application id"):
        check_application_id(built, frozenset({TEST_SKILL_ID}))


# --- verification switched off -----------------------------------------------------------------------------


def test_verification_off_accepts_unsigned_requests_but_still_checks_the_app_id(
    serve: Callable[..., AlexaClient],
) -> None:
    client = serve(None, LETDOWN_VERIFY_REQUESTS="0")
    assert_accepted(client.send(session_end(timestamp_offset=-3600)))
    other = "amzn1.ask.skill.11111111-other-skill"
    wrong = envelope({"type": "SessionEndedRequest"}, new_session(skill_id=other), skill_id=other)
    assert_rejected(client.send(wrong), WRONG_ID)


def test_verification_on_rejects_unsigned_requests(serve: Callable[..., AlexaClient]) -> None:
    client = serve(None)
    assert_rejected(client.send(session_end()), "missing SignatureCertChainUrl header")


# --- other bad input ---------------------------------------------------------------------------------------


def test_body_that_is_not_json_is_rejected(alexa: AlexaClient, pki: TestPKI) -> None:
    body = b"\xff{not json"
    assert_rejected(alexa.post_raw(body, signed_headers(pki, body, pki.chain_url())), "body is not JSON")


@pytest.mark.parametrize("value", [[1, 2], "text", {"version": "1.0"}, {"request": {}, "context": {}}])
def test_json_that_is_not_an_envelope_is_rejected(alexa: AlexaClient, pki: TestPKI, value: Any) -> None:
    body = json.dumps(value).encode()
    reply = alexa.post_raw(body, signed_headers(pki, body, pki.chain_url()))
    assert_rejected(reply, "body is not an Alexa request envelope")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/jsonx"])
def test_wrong_content_type_is_rejected(alexa: AlexaClient, pki: TestPKI, content_type: str) -> None:
    body = encode(session_end())
    headers = {**signed_headers(pki, body, pki.chain_url()), "Content-Type": content_type}
    assert_rejected(alexa.post_raw(body, headers), "content type must be application/json", status=415)


def test_json_content_type_with_charset_is_accepted(alexa: AlexaClient, pki: TestPKI) -> None:
    body = encode(session_end())
    headers = {
        **signed_headers(pki, body, pki.chain_url()),
        "Content-Type": "application/json; charset=utf-8",
    }
    assert_accepted(alexa.post_raw(body, headers))


def test_body_over_128_kb_is_refused(alexa: AlexaClient, pki: TestPKI) -> None:
    built = session_end()
    built["padding"] = "x" * (128 * 1024)
    body = encode(built)
    reply = alexa.post_raw(body, signed_headers(pki, body, pki.chain_url()))
    assert reply.status_code == 413
    below = session_end()
    below["padding"] = "x" * (120 * 1024)
    body = encode(below)
    assert_accepted(alexa.post_raw(body, signed_headers(pki, body, pki.chain_url())))


# --- the verifier object: chain folder, cache, downloads ---------------------------------------------------


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class RecordingFetch:
    """Stands in for the download from Amazon's S3 (unreachable here): records calls, serves a fixed body."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.calls: list[tuple[str, float, int]] = []

    def __call__(self, url: str, timeout: float, max_bytes: int) -> bytes:
        self.calls.append((url, timeout, max_bytes))
        return self.body


def verify_at(verifier: RequestVerifier, pki: TestPKI, url: str, now: float, variant: str = "valid") -> None:
    built = session_end(timestamp_offset=now - time.time())
    body = encode(built)
    verifier.verify(signed_headers(pki, body, url, variant), body, built)


def test_only_urls_that_pass_the_rules_are_fetched(pki: TestPKI) -> None:
    fetch = RecordingFetch(pki.identities["valid"].chain_pem())
    verifier = RequestVerifier(ca_bundle=pki.ca_bundle, cert_chain_dir=None, fetch=fetch)
    for url, reason in INVALID_CERT_URLS:
        with pytest.raises(VerificationError, match=re.escape(reason)):
            verify_at(verifier, pki, url, time.time())
    assert fetch.calls == []
    verify_at(verifier, pki, "HTTPS://S3.amazonaws.com:443/echo.api/../echo.api/echo-api-cert.pem", time.time())
    assert fetch.calls == [(ECHO_CERT_URL, MAX_FETCH_TIMEOUT_SECONDS, MAX_CHAIN_BYTES)]
    assert 0 < MAX_FETCH_TIMEOUT_SECONDS <= 2


def test_chain_folder_is_used_before_a_download_and_cannot_be_escaped(pki: TestPKI, tmp_path: Path) -> None:
    chain_dir = tmp_path / "chains"
    chain_dir.mkdir()
    shutil.copy(pki.chain_dir / "valid.pem", chain_dir / "echo-api-cert.pem")
    shutil.copy(pki.chain_dir / "valid.pem", chain_dir / ".hidden.pem")
    shutil.copy(pki.chain_dir / "valid.pem", tmp_path / "outside.pem")
    fetch = RecordingFetch(b"")  # anything not found in the folder would be downloaded: here, an empty body
    verifier = RequestVerifier(ca_bundle=pki.ca_bundle, cert_chain_dir=chain_dir, fetch=fetch)
    verify_at(verifier, pki, ECHO_CERT_URL, time.time())
    assert fetch.calls == []
    # A name starting with a dot is never read from the folder (so `..` never could be): it is downloaded.
    # Only the last segment of the normalised path is used, so a file beside the folder is out of reach.
    for url in (
        "https://s3.amazonaws.com/echo.api/.hidden.pem",
        "https://s3.amazonaws.com/echo.api/chains/../outside.pem",
        "https://s3.amazonaws.com/echo.api/../echo.api/../echo.api/outside.pem",
    ):
        with pytest.raises(VerificationError, match="not valid PEM"):
            verify_at(verifier, pki, url, time.time())
    assert [call[0] for call in fetch.calls] == [
        "https://s3.amazonaws.com/echo.api/.hidden.pem",
        "https://s3.amazonaws.com/echo.api/outside.pem",
        "https://s3.amazonaws.com/echo.api/outside.pem",
    ]


def test_oversize_chain_file_is_refused(pki: TestPKI, tmp_path: Path) -> None:
    (tmp_path / "big.pem").write_bytes(pki.identities["valid"].chain_pem() + b"\n" * MAX_CHAIN_BYTES)
    verifier = RequestVerifier(ca_bundle=pki.ca_bundle, cert_chain_dir=tmp_path, fetch=RecordingFetch(b""))
    with pytest.raises(VerificationError, match="too large"):
        verify_at(verifier, pki, "https://s3.amazonaws.com/echo.api/big.pem", time.time())


def test_chain_with_too_many_certificates_is_refused(pki: TestPKI) -> None:
    padded = pki.identities["valid"].chain_pem() + pki.identities["expired"].chain_pem() * 4
    verifier = RequestVerifier(ca_bundle=pki.ca_bundle, cert_chain_dir=None, fetch=RecordingFetch(padded))
    with pytest.raises(VerificationError, match="too many certificates"):
        verify_at(verifier, pki, ECHO_CERT_URL, time.time())


def test_failing_fetch_gives_a_short_reason(pki: TestPKI) -> None:
    def broken_fetch(url: str, timeout: float, max_bytes: int) -> bytes:
        raise OSError("network unreachable")

    verifier = RequestVerifier(ca_bundle=pki.ca_bundle, cert_chain_dir=None, fetch=broken_fetch)
    with pytest.raises(VerificationError) as raised:
        verify_at(verifier, pki, ECHO_CERT_URL, time.time())
    assert raised.value.reason == "certificate chain could not be downloaded"


def test_cache_keeps_a_chain_until_the_signing_cert_expires(pki: TestPKI) -> None:
    leaf_not_after = pki.identities["valid"].chain[0].not_valid_after_utc.timestamp()
    clock = FakeClock(leaf_not_after - 3600)
    fetch = RecordingFetch(pki.identities["valid"].chain_pem())
    verifier = RequestVerifier(ca_bundle=pki.ca_bundle, cert_chain_dir=None, fetch=fetch, clock=clock)
    verify_at(verifier, pki, ECHO_CERT_URL, clock.now)
    assert len(fetch.calls) == 1
    assert verifier.cache.get(ECHO_CERT_URL).expires_at == leaf_not_after
    clock.now = leaf_not_after - 1
    verify_at(verifier, pki, ECHO_CERT_URL, clock.now)
    assert len(fetch.calls) == 1  # served from the cache
    clock.now = leaf_not_after + 1
    assert verifier.cache.get(ECHO_CERT_URL) is None
    with pytest.raises(VerificationError, match="signing certificate has expired"):
        verify_at(verifier, pki, ECHO_CERT_URL, clock.now)
    assert len(fetch.calls) == 2


def test_cache_entry_lives_a_day_at_most(pki: TestPKI) -> None:
    clock = FakeClock(time.time())
    fetch = RecordingFetch(pki.identities["valid"].chain_pem())
    verifier = RequestVerifier(ca_bundle=pki.ca_bundle, cert_chain_dir=None, fetch=fetch, clock=clock)
    started = clock.now
    verify_at(verifier, pki, ECHO_CERT_URL, clock.now)
    clock.now = started + CACHE_MAX_AGE_SECONDS - 1
    verify_at(verifier, pki, ECHO_CERT_URL, clock.now)
    assert len(fetch.calls) == 1
    clock.now = started + CACHE_MAX_AGE_SECONDS
    verify_at(verifier, pki, ECHO_CERT_URL, clock.now)
    assert len(fetch.calls) == 2


def test_rejected_chains_are_not_cached(pki: TestPKI) -> None:
    fetch = RecordingFetch(pki.identities["untrusted_root"].chain_pem())
    verifier = RequestVerifier(ca_bundle=pki.ca_bundle, cert_chain_dir=None, fetch=fetch)
    for _ in range(2):
        with pytest.raises(VerificationError, match=CHAIN_REASON):
            verify_at(verifier, pki, ECHO_CERT_URL, time.time(), variant="untrusted_root")
    assert len(verifier.cache) == 0
    assert len(fetch.calls) == 2


def test_cache_is_bounded_and_least_recently_used_goes_first(pki: TestPKI) -> None:
    fetch = RecordingFetch(pki.identities["valid"].chain_pem())
    verifier = RequestVerifier(ca_bundle=pki.ca_bundle, cert_chain_dir=None, fetch=fetch, cache_size=3)
    urls = [f"https://s3.amazonaws.com/echo.api/cert-{index}.pem" for index in range(5)]
    for url in urls[:3]:
        verify_at(verifier, pki, url, time.time())
    verify_at(verifier, pki, urls[0], time.time())  # touch the oldest: now the most recent
    for url in urls[3:]:
        verify_at(verifier, pki, url, time.time())
    assert len(verifier.cache) == 3
    assert [url in verifier.cache for url in urls] == [True, False, False, True, True]
    assert len(fetch.calls) == 5


def test_cache_survives_concurrent_use(pki: TestPKI) -> None:
    cache = ChainCache(max_entries=4, clock=time.time)
    signer = TrustedSigner(public_key=pki.identities["valid"].key.public_key(), expires_at=time.time() + 60)
    errors: list[BaseException] = []

    def hammer(worker: int) -> None:
        try:
            for index in range(300):
                url = f"u{(worker * 7 + index) % 11}"
                cache.put(url, signer)
                cache.get(url)
                assert len(cache) <= 4
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=hammer, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(cache) == 4


def test_verifier_settings_are_checked_at_start(pki: TestPKI, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        RequestVerifier(ca_bundle=pki.ca_bundle, cert_chain_dir=None, fetch_timeout=10)
    with pytest.raises(ConfigError):
        RequestVerifier(ca_bundle=tmp_path / "missing.pem", cert_chain_dir=None)
    (tmp_path / "empty.pem").write_text("no certificates here")
    with pytest.raises(ConfigError):
        RequestVerifier(ca_bundle=tmp_path / "empty.pem", cert_chain_dir=None)
    RequestVerifier(ca_bundle=None, cert_chain_dir=None)  # certifi's roots load


def test_certifi_roots_do_not_trust_the_test_pki(pki: TestPKI) -> None:
    fetch = RecordingFetch(pki.identities["valid"].chain_pem())
    verifier = RequestVerifier(ca_bundle=None, cert_chain_dir=None, fetch=fetch)
    with pytest.raises(VerificationError, match=CHAIN_REASON):
        verify_at(verifier, pki, ECHO_CERT_URL, time.time())


# --- the download itself, against a local plain-HTTP stand-in for S3 ---------------------------------------


class StandInS3(BaseHTTPRequestHandler):
    """Serves the routes `download_chain` must cope with; S3 itself cannot be reached from the tests."""

    chain = b""
    requested: list[str]

    def do_GET(self) -> None:
        self.requested.append(self.path)
        with suppress(BrokenPipeError, ConnectionResetError):  # the client gave up on purpose
            self.route()

    def route(self) -> None:
        if self.path == "/echo.api/ok.pem":
            self.reply(200, self.chain)
        elif self.path == "/echo.api/big.pem":
            self.reply(200, b"x" * (MAX_CHAIN_BYTES + 1))
        elif self.path == "/echo.api/big-chunked.pem":  # no Content-Length to refuse up front
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(20):
                self.wfile.write(b"2000\r\n" + b"y" * 0x2000 + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/echo.api/redirect.pem":
            self.send_response(302)
            self.send_header("Location", "/echo.api/ok.pem")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/echo.api/slow.pem":  # drips bytes, each well within the socket read timeout
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(40):
                self.wfile.write(b"z" * 10)
                self.wfile.flush()
                time.sleep(0.05)
        else:
            self.reply(404, b"no such key")

    def reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class StandIn:
    url: str
    requested: list[str] = field(default_factory=list)


@pytest.fixture
def stand_in_s3(pki: TestPKI) -> Iterator[StandIn]:
    stand_in = StandIn(url="")
    handler = type(
        "Handler",
        (StandInS3,),
        {"chain": pki.identities["valid"].chain_pem(), "requested": stand_in.requested},
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    stand_in.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_download_returns_the_chain(stand_in_s3: StandIn, pki: TestPKI) -> None:
    chain = download_chain(f"{stand_in_s3.url}/echo.api/ok.pem", 3.0, MAX_CHAIN_BYTES)
    assert chain == pki.identities["valid"].chain_pem()


@pytest.mark.parametrize("path", ["big.pem", "big-chunked.pem"])
def test_download_refuses_oversize_responses(stand_in_s3: StandIn, path: str) -> None:
    with pytest.raises(VerificationError, match="too large"):
        download_chain(f"{stand_in_s3.url}/echo.api/{path}", 3.0, MAX_CHAIN_BYTES)


def test_download_does_not_follow_redirects(stand_in_s3: StandIn) -> None:
    with pytest.raises(VerificationError, match="could not be downloaded"):
        download_chain(f"{stand_in_s3.url}/echo.api/redirect.pem", 3.0, MAX_CHAIN_BYTES)
    assert stand_in_s3.requested == ["/echo.api/redirect.pem"]
    with pytest.raises(VerificationError, match="could not be downloaded"):
        download_chain(f"{stand_in_s3.url}/echo.api/missing.pem", 3.0, MAX_CHAIN_BYTES)


def test_download_gives_up_at_its_deadline_even_while_bytes_trickle_in(stand_in_s3: StandIn) -> None:
    started = time.monotonic()
    with pytest.raises(VerificationError, match="timed out"):
        download_chain(f"{stand_in_s3.url}/echo.api/slow.pem", 0.5, MAX_CHAIN_BYTES)
    assert time.monotonic() - started < 1.5


def test_unreachable_host_fails_fast_with_a_short_reason() -> None:
    with pytest.raises(VerificationError, match="could not be downloaded"):
        download_chain("http://127.0.0.1:9/echo.api/x.pem", 1.0, MAX_CHAIN_BYTES)


def test_default_download_uses_requests_with_timeout_and_no_redirects(
    pki: TestPKI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # requests.get is monkeypatched: the real call would go to Amazon's S3, which cannot be reached here.
    seen: list[tuple[str, dict[str, Any]]] = []
    chain = pki.identities["valid"].chain_pem()

    class FakeBody:
        def __init__(self) -> None:
            self.parts = [chain]

        def read1(self, amount: int) -> bytes:
            return self.parts.pop() if self.parts else b""

    class FakeResponse:
        status_code = 200
        headers = {"Content-Length": str(len(chain))}  # noqa: RUF012 - a fixed stand-in
        raw = FakeBody()

        def __enter__(self) -> FakeResponse:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

    def fake_get(url: str, **kwargs: Any) -> FakeResponse:
        seen.append((url, kwargs))
        return FakeResponse()

    monkeypatch.setattr(requests, "get", fake_get)
    verifier = RequestVerifier(ca_bundle=pki.ca_bundle, cert_chain_dir=None)
    verify_at(verifier, pki, "https://S3.AMAZONAWS.COM/echo.api/./echo-api-cert.pem", time.time())
    assert len(seen) == 1
    url, kwargs = seen[0]
    assert url == ECHO_CERT_URL
    assert kwargs["allow_redirects"] is False
    assert all(0 < limit <= 3 for limit in kwargs["timeout"])
