"""`letdown say`: an utterance through the resolver and the service's own request path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from skill.config import Config
from skill.speech.content import ContentLibrary, plain_text
from skill.tools.say import say
from tests.support.server import REPO_ROOT

CONTENT = ContentLibrary.load().locale("en-US")


@pytest.fixture
def say_env(tmp_path: Path) -> dict[str, str]:
    return {"LETDOWN_DATABASE_URL": f"sqlite:///{tmp_path / 'say.db'}", "LETDOWN_VERIFY_REQUESTS": "1"}


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skill.cli", "--log-level", "ERROR", "say", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_say_json_has_every_field(say_env: dict[str, str]) -> None:
    result = run_cli(say_env, "--json", "give me a tip about heat")
    assert result.returncode == 0, result.stderr
    answer: dict[str, Any] = json.loads(result.stdout)
    assert answer["intent"] == "TipIntent"
    assert answer["slots"] == {"topic": {"value": "heat", "id": "warmth"}}
    assert answer["session_attributes"]["last_message"] == "tip.warmth"
    assert answer["ssml"].startswith("<speak>")
    assert answer["speech"] == plain_text(answer["ssml"])
    assert "<" not in answer["speech"]
    assert answer["reprompt"] and "<" not in answer["reprompt"]
    assert answer["end_session"] is False
    assert answer["directives"] == []


def test_say_text_output(say_env: dict[str, str]) -> None:
    result = run_cli(say_env, "I feel hopeless when my milk lets down")
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines())
    assert lines["intent"].split()[0] == "CrisisIntent"
    assert lines["speech"].strip() in {plain_text(v) for v in CONTENT.variants("safety.crisis")}
    assert "<say-as" not in result.stdout
    assert {"intent", "speech", "reprompt", "end_session"} <= set(lines)


def test_say_uses_the_configured_database(say_env: dict[str, str], tmp_path: Path) -> None:
    config = Config.from_env(say_env)
    first = say("open let down helper", config)
    assert first.resolution.intent == "LaunchRequest"
    assert first.turn.session_attributes["last_message"] == "launch.first"
    assert say("whisper", config).turn.session_attributes["last_message"] == "whisper.on"
    later = say("open let down helper", config)
    assert later.turn.session_attributes["last_message"] == "launch.returning"
    assert later.turn.ssml and '<amazon:effect name="whispered">' in later.turn.ssml
    assert (tmp_path / "say.db").exists()


def test_say_without_audio_player(say_env: dict[str, str]) -> None:
    result = say("help my milk let down", Config.from_env(say_env), audio_player=False)
    assert result.resolution.intent == "LetDownIntent"
    assert result.turn.directives == []
    assert result.turn.end_session is False


def test_say_falls_back_for_unknown_requests_and_locales(say_env: dict[str, str]) -> None:
    result = say("what's the weather in Paris", Config.from_env(say_env), locale="en-GB")
    assert result.resolution.intent == "AMAZON.FallbackIntent"
    assert result.turn.session_attributes["last_message"] == "fallback.main"
    assert result.turn.reprompt


@pytest.mark.parametrize(
    ("locale", "utterance", "message", "spoken"),
    [
        ("en-GB", "my baby hasn't had a wee all day", "safety.baby_health", "999"),
        ("en-AU", "I want to end my life", "safety.crisis", "13 11 14"),
        ("en-IN", "I want to end my life", "safety.crisis", "14416"),
        ("en-CA", "I want to end my life", "safety.crisis", "9-8-8"),
        ("es-US", "qué es la d mer", "dmer.about", "D-MER"),
    ],
)
def test_say_speaks_the_locale(say_env: dict[str, str], locale: str, utterance: str, message: str, spoken: str) -> None:
    result = run_cli(say_env, "--json", "--locale", locale, utterance)
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["session_attributes"]["last_message"] == message
    assert spoken in reply["speech"]
