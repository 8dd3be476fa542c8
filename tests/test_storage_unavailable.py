"""What the skill says and answers while its storage is unavailable, over real HTTP with signed requests.

The database URL names a directory (SQLite cannot open it), so every storage call fails as it would on a
broken disk; guidance still answers, Resume says it cannot reach the saved place, and a SkillDisabled is
journaled, or, if even the journal cannot be written, answered with a 503 (the only 5xx the skill gives).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from skill.app import create_serving_app
from skill.config import Config
from skill.playback.catalog import make_token
from skill.storage import hash_user_id
from tests.support.alexa import AlexaClient, envelope
from tests.support.audio import shared_service_env, write_fake_audio_dir
from tests.support.pki import TestPKI
from tests.support.server import threaded_server


@pytest.fixture
def broken_storage(tmp_path: Path) -> Path:
    (tmp_path / "letdown.db").mkdir()
    return tmp_path / "letdown.db"


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fake_audio_dir(tmp_path_factory.mktemp("audio"))


@pytest.fixture
def service(pki: TestPKI, tmp_path: Path, broken_storage: Path, audio_dir: Path) -> Iterator[str]:
    env = shared_service_env(pki, tmp_path, audio_dir)
    env["LETDOWN_DATABASE_URL"] = f"sqlite:///{broken_storage}"
    with threaded_server(create_serving_app(Config.from_env(env))) as base_url:
        yield base_url


@pytest.fixture
def echo(service: str, pki: TestPKI) -> AlexaClient:
    return AlexaClient(base_url=service, pki=pki, user_id=f"amzn1.ask.account.{uuid.uuid4().hex}")


def test_resume_says_the_saved_place_is_out_of_reach(echo: AlexaClient) -> None:
    answer = echo.intent("AMAZON.ResumeIntent")
    assert answer["sessionAttributes"]["last_message"] == "audio.saved_place_unavailable"
    assert answer["response"]["shouldEndSession"] is False


def test_guidance_and_events_still_answer(echo: AlexaClient) -> None:
    assert echo.intent("AMAZON.HelpIntent")["response"]["outputSpeech"]
    token = make_token("breathing-10m")
    assert echo.event("AudioPlayer.PlaybackStopped", token=token, offsetInMilliseconds=5000)["response"] == {}


def test_resume_still_plays_what_the_device_reports(echo: AlexaClient) -> None:
    token = make_token("breathing-10m")
    echo.player_state = {"playerActivity": "PAUSED", "token": token, "offsetInMilliseconds": 7000}
    directives = echo.intent("AMAZON.ResumeIntent")["response"]["directives"]
    assert [directive["type"] for directive in directives] == ["AudioPlayer.Play"]
    assert directives[0]["audioItem"]["stream"]["offsetInMilliseconds"] == 7000


def test_skill_disabled_is_journaled_while_storage_is_away(echo: AlexaClient, broken_storage: Path) -> None:
    reply = echo.send(envelope({"type": "AlexaSkillEvent.SkillDisabled"}, None, user_id=echo.user_id))
    assert reply.status_code == 200
    journal = broken_storage.with_name("letdown.db.pending-deletions")
    assert journal.read_text() == f"{hash_user_id(echo.user_id)}\n"
    assert echo.user_id not in journal.read_text()


def test_skill_disabled_answers_503_only_when_not_even_the_journal_can_be_written(
    echo: AlexaClient, broken_storage: Path
) -> None:
    broken_storage.with_name("letdown.db.pending-deletions").mkdir()  # the journal cannot be written either
    disabled = echo.send(envelope({"type": "AlexaSkillEvent.SkillDisabled"}, None, user_id=echo.user_id))
    assert disabled.status_code == 503
    for request_type in ("AlexaSkillEvent.SkillEnabled", "AlexaSkillEvent.SkillPermissionChanged"):
        assert echo.send(envelope({"type": request_type}, None, user_id=echo.user_id)).status_code == 200
    assert echo.intent("AMAZON.HelpIntent")["response"]["outputSpeech"]
