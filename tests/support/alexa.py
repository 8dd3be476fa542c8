"""Alexa request envelopes as a device sends them, and a client that signs and posts them over HTTP."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from skill.tools import envelopes
from tests.support.pki import TestPKI

TEST_SKILL_ID = "amzn1.ask.skill.00000000-test-0000-0000-letdownhelper"
TEST_USER_ID = "amzn1.ask.account.TESTUSER"
TEST_DEVICE_ID = "amzn1.ask.device.TESTDEVICE"
TEST_PUBLIC_URL = "https://letdown.example.test"


def service_environment(pki: TestPKI, data_dir: Path) -> dict[str, str]:
    """The environment a deployed service would have, pointed at the test PKI and a SQLite file in `data_dir`."""
    return {
        "LETDOWN_SKILL_ID": TEST_SKILL_ID,
        "LETDOWN_VERIFY_REQUESTS": "1",
        "LETDOWN_CA_BUNDLE": str(pki.ca_bundle),
        "LETDOWN_CERT_CHAIN_DIR": str(pki.chain_dir),
        "LETDOWN_DATABASE_URL": f"sqlite:///{data_dir / 'letdown.db'}",
        "LETDOWN_PUBLIC_URL": TEST_PUBLIC_URL,
    }


def timestamp(offset_seconds: float = 0) -> str:
    return envelopes.timestamp(offset_seconds)


def context(
    user_id: str = TEST_USER_ID,
    skill_id: str = TEST_SKILL_ID,
    audio_player: bool = True,
    player_state: dict[str, Any] | None = None,
    apl: bool = False,
) -> dict[str, Any]:
    return envelopes.device_context(
        application_id=skill_id,
        user_id=user_id,
        device_id=TEST_DEVICE_ID,
        audio_player=audio_player,
        player_state=player_state,
        apl=apl,
    )


def envelope(
    request: dict[str, Any],
    session: dict[str, Any] | None = None,
    *,
    user_id: str = TEST_USER_ID,
    skill_id: str = TEST_SKILL_ID,
    audio_player: bool = True,
    player_state: dict[str, Any] | None = None,
    timestamp_offset: float = 0,
    locale: str = "en-US",
    apl: bool = False,
) -> dict[str, Any]:
    return envelopes.request_envelope(
        request,
        context(user_id, skill_id, audio_player, player_state, apl),
        session,
        locale=locale,
        timestamp_offset=timestamp_offset,
    )


def new_session(user_id: str = TEST_USER_ID, skill_id: str = TEST_SKILL_ID) -> dict[str, Any]:
    return envelopes.session_part(
        application_id=skill_id, user_id=user_id, session_id=f"amzn1.echo-api.session.{uuid.uuid4()}"
    )


def intent_request(name: str, **slots: str | None) -> dict[str, Any]:
    return envelopes.intent_request(name, {slot: {"value": value} for slot, value in slots.items()})


def resolved_slot(name: str, spoken: str, value_id: str) -> dict[str, Any]:
    """A custom-type slot as Alexa sends it after entity resolution matched `value_id`."""
    return {
        "name": name,
        "value": spoken,
        "confirmationStatus": "NONE",
        "resolutions": {
            "resolutionsPerAuthority": [
                {
                    "authority": f"amzn1.er-authority.echo-sdk.{TEST_SKILL_ID}.{name}",
                    "status": {"code": "ER_SUCCESS_MATCH"},
                    "values": [{"value": {"name": spoken, "id": value_id}}],
                }
            ]
        },
    }


@dataclass
class AlexaClient:
    """Acts as one Echo: signs each body with the test PKI, posts it, carries the session across turns."""

    base_url: str
    pki: TestPKI | None
    user_id: str = TEST_USER_ID
    audio_player: bool = True
    locale: str = "en-US"
    apl: bool = False  # an Echo Show: the device declares Alexa.Presentation.APL
    session: dict[str, Any] | None = None
    player_state: dict[str, Any] = field(default_factory=lambda: {"playerActivity": "IDLE"})
    http: requests.Session = field(default_factory=requests.Session)

    def post_raw(self, body: bytes, headers: dict[str, str]) -> requests.Response:
        return self.http.post(f"{self.base_url}/alexa", data=body, headers=headers, timeout=10)

    def send(self, built: dict[str, Any], variant: str = "valid") -> requests.Response:
        body = json.dumps(built).encode()
        headers = {"Content-Type": "application/json"}
        if self.pki is not None:
            headers.update(self.pki.headers(body, variant))
        return self.post_raw(body, headers)

    def _turn(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.session is None:
            self.session = new_session(self.user_id)
        built = envelope(
            request,
            self.session,
            user_id=self.user_id,
            audio_player=self.audio_player,
            player_state=self.player_state,
            locale=self.locale,
            apl=self.apl,
        )
        reply = self.send(built)
        assert reply.status_code == 200, reply.text
        answer = reply.json()
        response = answer.get("response", {})
        if response.get("shouldEndSession") is False:
            self.session = {**self.session, "new": False, "attributes": answer.get("sessionAttributes") or {}}
        else:
            self.session = None
        return answer

    def launch(self) -> dict[str, Any]:
        return self._turn({"type": "LaunchRequest"})

    def intent(self, name: str, **slots: str | None) -> dict[str, Any]:
        return self._turn(intent_request(name, **slots))

    def intent_with(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._turn(request)

    def event(self, request_type: str, **fields: Any) -> dict[str, Any]:
        """A request outside the session (AudioPlayer, PlaybackController, skill events)."""
        built = envelope(
            {"type": request_type, **fields},
            None,
            user_id=self.user_id,
            audio_player=self.audio_player,
            player_state=self.player_state,
            locale=self.locale,
        )
        reply = self.send(built)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def end_session(self, reason: str = "USER_INITIATED") -> dict[str, Any]:
        answer = self._turn({"type": "SessionEndedRequest", "reason": reason})
        self.session = None
        return answer


def play_visualisation(client: AlexaClient) -> dict[str, Any]:
    """ "Play the let-down visualisation": the single-shot track (LetDownIntent starts the coach)."""
    return client.intent("PlayTrackIntent", track="let-down visualisation")
