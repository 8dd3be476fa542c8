"""Property-based tests against the live app: whatever a client sends, the answer is never a 5xx.

Random bytes, random JSON, mutated real envelopes (a share of them validly signed, so the skill itself is
fuzzed and not only the verifier), random signature headers and random content types. Afterwards the
server must still answer a normal signed request.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.alexa import (
    AlexaClient,
    envelope,
    intent_request,
    new_session,
    resolved_slot,
)
from tests.support.pki import LEAF_VARIANTS, TestPKI

ALLOWED_STATUSES = {200, 400, 413, 415}
FUZZ_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

ENVELOPE_KEYS = [
    "version",
    "session",
    "context",
    "request",
    "type",
    "timestamp",
    "intent",
    "slots",
    "name",
    "value",
    "token",
    "offsetInMilliseconds",
    "System",
    "AudioPlayer",
    "application",
    "applicationId",
    "user",
    "userId",
    "attributes",
    "new",
    "error",
    "resolutions",
    "locale",
]

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["", "PT2M", "P1D", "en-US", "xx-XX", "PLAYING", "AMAZON.StopIntent", "LaunchRequest"])
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(ENVELOPE_KEYS) | st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def base_envelopes() -> list[dict[str, Any]]:
    """Real request shapes the skill handles, built fresh (so their timestamps pass verification)."""
    playing = {"playerActivity": "PLAYING", "token": "breathing-2m", "offsetInMilliseconds": 5000}
    audio_event = {"token": "breathing-2m", "offsetInMilliseconds": 1234}
    return [
        envelope({"type": "LaunchRequest"}, new_session()),
        envelope(intent_request("BreathingIntent", duration="PT2M"), new_session()),
        envelope(intent_request("PlayTrackIntent", track="dmer wave"), new_session()),
        envelope(intent_request("TipIntent", topic="warmth"), new_session()),
        envelope(
            {
                **intent_request("TipIntent"),
                "intent": {"name": "TipIntent", "slots": {"topic": resolved_slot("topic", "warm", "warmth")}},
            },
            new_session(),
        ),
        envelope(
            intent_request("AMAZON.YesIntent"),
            {**new_session(), "new": False, "attributes": {"last_offer": "more"}},
        ),
        envelope(intent_request("AMAZON.PauseIntent"), new_session(), player_state=playing),
        envelope(intent_request("AMAZON.ResumeIntent"), new_session(), player_state=playing),
        envelope(intent_request("AMAZON.NextIntent"), new_session(), player_state=playing),
        envelope(intent_request("CrisisIntent"), new_session()),
        envelope({"type": "AudioPlayer.PlaybackStarted", **audio_event}, player_state=playing),
        envelope({"type": "AudioPlayer.PlaybackStopped", **audio_event}, player_state=playing),
        envelope({"type": "AudioPlayer.PlaybackNearlyFinished", **audio_event}, player_state=playing),
        envelope({"type": "AudioPlayer.PlaybackFinished", **audio_event}),
        envelope(
            {
                "type": "AudioPlayer.PlaybackFailed",
                **audio_event,
                "error": {"type": "MEDIA_ERROR_UNKNOWN", "message": "x"},
            }
        ),
        envelope({"type": "PlaybackController.NextCommandIssued"}, player_state=playing),
        envelope({"type": "PlaybackController.PauseCommandIssued"}, player_state=playing),
        envelope(
            {
                "type": "SessionEndedRequest",
                "reason": "ERROR",
                "error": {"type": "INVALID_RESPONSE", "message": "x"},
            },
            new_session(),
        ),
        envelope({"type": "System.ExceptionEncountered", "error": {"type": "X"}, "cause": {"requestId": "r"}}),
        envelope(
            {
                "type": "AlexaSkillEvent.SkillDisabled",
                "body": {"userInformationPersistenceStatus": "NOT_PERSISTED"},
            }
        ),
        envelope({"type": "CanFulfillIntentRequest", "intent": {"name": "TipIntent", "slots": {}}}),
    ]


def node_paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from node_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from node_paths(child, (*prefix, index))


def retyped(value: Any) -> Any:
    if isinstance(value, bool):
        return "true"
    if isinstance(value, str):
        return len(value) if value else None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return {str(index): item for index, item in enumerate(value)}
    return {}


# What the app and the verifier need to see an envelope at all; sparing them lets a mutation reach the skill.
SKELETON = {
    ("version",),
    ("request",),
    ("request", "type"),
    ("request", "timestamp"),
    ("context",),
    ("context", "System"),
    ("context", "System", "application"),
    ("context", "System", "application", "applicationId"),
    ("session", "application"),
    ("session", "application", "applicationId"),
}


def mutate(document: dict[str, Any], choice: int, action: str, replacement: Any, spare_skeleton: bool) -> None:
    """Drop, replace or retype the node at one path (chosen by `choice`) of `document`, in place."""
    paths = [path for path in list(node_paths(document))[1:] if not (spare_skeleton and path in SKELETON)]
    if not paths:
        return
    *parent_path, last = paths[choice % len(paths)]
    parent: Any = document
    for step in parent_path:
        parent = parent[step]
    if action == "drop":
        del parent[last]
    elif action == "replace":
        parent[last] = replacement
    else:
        parent[last] = retyped(parent[last])


mutations = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=10_000),
        st.sampled_from(["drop", "replace", "retype"]),
        json_values,
    ),
    min_size=1,
    max_size=3,
)
header_text = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=80)
content_types = (
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "APPLICATION/JSON",
            "text/plain",
            "",
            "application/jsonx",
        ]
    )
    | header_text
)
cert_urls = (
    st.sampled_from([f"https://s3.amazonaws.com/echo.api/{variant}.pem" for variant in LEAF_VARIANTS])
    | st.sampled_from(["http://s3.amazonaws.com/echo.api/valid.pem", "https://s3.amazonaws.com/echo.api/%2e%2e/x"])
    | header_text
)
signatures = header_text | st.binary(max_size=300).map(lambda raw: base64.b64encode(raw).decode())


def post(client: AlexaClient, body: bytes, headers: dict[str, str]) -> requests.Response:
    return client.http.post(f"{client.base_url}/alexa", data=body, headers=headers, timeout=15)


def assert_handled(reply: requests.Response) -> None:
    assert reply.status_code in ALLOWED_STATUSES, (reply.status_code, reply.text[:500])
    assert reply.headers["Content-Type"].startswith("application/json")
    reply.json()


def assert_still_serving(client: AlexaClient, pki: TestPKI) -> None:
    assert client.http.get(f"{client.base_url}/healthz", timeout=5).status_code == 200
    built = envelope({"type": "SessionEndedRequest", "reason": "USER_INITIATED"}, new_session())
    body = json.dumps(built).encode()
    reply = post(client, body, {"Content-Type": "application/json", **pki.headers(body)})
    assert reply.status_code == 200, reply.text


def test_random_bytes_never_break_the_service(alexa: AlexaClient, pki: TestPKI) -> None:
    @FUZZ_SETTINGS
    @given(body=st.binary(max_size=2048), content_type=content_types, signed=st.booleans())
    def random_bytes(body: bytes, content_type: str, signed: bool) -> None:
        headers = {"Content-Type": content_type, **(pki.headers(body) if signed else {})}
        assert_handled(post(alexa, body, headers))

    random_bytes()
    assert_still_serving(alexa, pki)


def test_random_json_never_breaks_the_service(alexa: AlexaClient, pki: TestPKI) -> None:
    @FUZZ_SETTINGS
    @given(value=json_values, signed=st.booleans())
    def random_json(value: Any, signed: bool) -> None:
        body = json.dumps(value).encode()
        headers = {"Content-Type": "application/json", **(pki.headers(body) if signed else {})}
        assert_handled(post(alexa, body, headers))

    random_json()
    assert_still_serving(alexa, pki)


def test_mutated_envelopes_never_break_the_service(alexa: AlexaClient, pki: TestPKI) -> None:
    # Signed in most examples, so that envelopes the verifier accepts reach the skill's handlers.
    @settings(FUZZ_SETTINGS, max_examples=300)
    @given(
        base=st.integers(min_value=0),
        changes=mutations,
        spare_skeleton=st.booleans(),
        signed=st.integers(min_value=0, max_value=3),
    )
    def mutated_envelope(base: int, changes: list[tuple[int, str, Any]], spare_skeleton: bool, signed: int) -> None:
        candidates = base_envelopes()
        document = candidates[base % len(candidates)]
        for choice, action, replacement in changes:
            mutate(document, choice, action, replacement, spare_skeleton)
        body = json.dumps(document).encode()
        headers = {"Content-Type": "application/json", **(pki.headers(body) if signed else {})}
        assert_handled(post(alexa, body, headers))

    mutated_envelope()
    assert_still_serving(alexa, pki)


def test_random_headers_never_break_the_service(alexa: AlexaClient, pki: TestPKI) -> None:
    @FUZZ_SETTINGS
    @given(
        base=st.integers(min_value=0),
        content_type=content_types,
        cert_url=st.none() | cert_urls,
        signature=st.none() | signatures,
        extra=st.dictionaries(
            st.sampled_from(["signaturecertchainurl", "SIGNATURE-256", "X-Other"]), header_text, max_size=2
        ),
    )
    def random_headers(
        base: int, content_type: str, cert_url: str | None, signature: str | None, extra: dict[str, str]
    ) -> None:
        candidates = base_envelopes()
        body = json.dumps(candidates[base % len(candidates)]).encode()
        headers = {"Content-Type": content_type, **extra}
        if cert_url is not None:
            headers["SignatureCertChainUrl"] = cert_url
        if signature is not None:
            headers["Signature-256"] = signature
        assert_handled(post(alexa, body, headers))

    random_headers()
    assert_still_serving(alexa, pki)


def test_deeply_nested_and_huge_bodies_never_break_the_service(alexa: AlexaClient, pki: TestPKI) -> None:
    @settings(FUZZ_SETTINGS, max_examples=20)
    @given(depth=st.integers(min_value=500, max_value=200_000), opener=st.sampled_from([b"[", b'{"a":']))
    def deep_body(depth: int, opener: bytes) -> None:
        body = opener * depth
        assert_handled(post(alexa, body, {"Content-Type": "application/json", **pki.headers(body)}))

    deep_body()
    assert_still_serving(alexa, pki)


@pytest.mark.parametrize("depth", [900, 5000])
def test_deep_nesting_inside_a_signed_envelope_is_answered(alexa: AlexaClient, pki: TestPKI, depth: int) -> None:
    built = envelope({"type": "SessionEndedRequest", "reason": "USER_INITIATED"}, new_session())
    body = json.dumps(built).encode().replace(b'"reason"', b'"extra": ' + b"[" * depth + b"]" * depth + b', "reason"')
    assert_handled(post(alexa, body, {"Content-Type": "application/json", **pki.headers(body)}))
    assert_still_serving(alexa, pki)
