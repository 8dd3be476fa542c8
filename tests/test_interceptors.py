"""The skill's interceptors and the view's request log: what every request gets, done once."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from skill.web.app import service_of
from tests.support.alexa import TEST_USER_ID, AlexaClient, envelope, new_session
from tests.support.pki import TestPKI
from tests.support.server import threaded_server


def turn_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(record.getMessage()) for record in caplog.records if record.name == "letdown.turn"]


def test_one_turn_line_per_answered_turn_with_the_message_id(
    alexa: AlexaClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="letdown.turn")
    alexa.launch()
    alexa.intent("RelaxTipIntent")
    alexa.event("AudioPlayer.PlaybackStarted", token="not-ours", offsetInMilliseconds=0)
    lines = turn_lines(caplog)
    assert [(line["type"], line["intent"], line["message"]) for line in lines] == [
        ("LaunchRequest", None, "launch.first"),
        ("IntentRequest", "RelaxTipIntent", "tip.relax"),
        ("AudioPlayer.PlaybackStarted", None, None),
    ]
    assert all(len(line["user"]) == 12 for line in lines)
    assert TEST_USER_ID not in "\n".join(record.getMessage() for record in caplog.records)


class CrashingSkill:
    """Fault injection: a skill whose every invocation raises, as a bug below the view would."""

    def invoke(self, request_envelope: Any, context: Any) -> Any:
        raise RuntimeError("injected failure")


def test_a_server_error_is_logged_too(
    make_app: Callable[..., Flask], pki: TestPKI, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app()
    service_of(app).skill = CrashingSkill()  # type: ignore[assignment]
    caplog.set_level(logging.INFO, logger="letdown.request")
    with threaded_server(app) as base_url:
        reply = AlexaClient(base_url=base_url, pki=pki).send(envelope({"type": "LaunchRequest"}, new_session()))
    assert reply.status_code == 500
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "letdown.request"]
    assert [(line["type"], line["status"]) for line in lines] == [("LaunchRequest", 500)]
    assert lines[0]["reason"]
