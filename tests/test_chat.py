"""`letdown chat` driven in a subprocess: lines on stdin, the conversation on stdout.

The real CLI, app, resolver, skill and SQLite store; tracks are short tone MP3s. Assertions are on
structure (prompts, JSON replies, intents, session ids, events), never on the prose.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import write_tone_tracks
from tests.support.server import REPO_ROOT

PROMPT = "you> "


@pytest.fixture
def chat_env(service_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    write_tone_tracks(tmp_path / "audio", {"breathing-2m": 20.0})
    return {**os.environ, **service_env, "LETDOWN_AUDIO_DIR": str(tmp_path / "audio")}


def chat(env: dict[str, str], *lines: str, args: tuple[str, ...] = (), close_with_quit: bool = True) -> tuple:
    stdin = "\n".join([*lines, ":quit"] if close_with_quit else lines) + "\n"
    done = subprocess.run(
        [sys.executable, "-m", "skill.cli", "--log-level", "ERROR", "chat", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=60,
    )
    return done.returncode, done.stdout, done.stderr


def json_replies(stdout: str) -> list[dict[str, Any]]:
    """The JSON objects printed with :json on (each on its own line, possibly after a prompt)."""
    replies = []
    for line in stdout.splitlines():
        start = line.find("{")
        if start != -1:
            replies.append(json.loads(line[start:]))
    return replies


def test_a_short_conversation_keeps_one_session_and_quits_cleanly(chat_env: dict[str, str]) -> None:
    code, out, err = chat(chat_env, ":json", "open let down helper", "another tip", "another tip")
    assert code == 0, err
    assert out.count(PROMPT) == 5  # one prompt per line read, including :quit
    replies = [reply for reply in json_replies(out) if reply["request_type"]]
    assert [reply["request_type"] for reply in replies] == ["LaunchRequest", "IntentRequest", "IntentRequest"]
    assert [reply["heard"]["intent"] for reply in replies[1:]] == ["AnotherTipIntent", "AnotherTipIntent"]
    session_ids = {reply["session_state"]["session_id"] for reply in replies}
    assert len(session_ids) == 1
    tips = replies[2]["session_attributes"]["heard_tips"]
    assert len(tips) == 2 and tips[0] != tips[1]
    assert all(reply["speech"] for reply in replies)


def test_plain_output_shows_replies_reprompts_and_directives(chat_env: dict[str, str]) -> None:
    code, out, err = chat(chat_env, "open let down helper", "", "", "start breathing")
    assert code == 0, err
    lines = out.splitlines()
    replies = [line for line in lines if "alexa> " in line]
    assert len(replies) == 3  # the launch reply, the reprompt after one silence, the track intro
    assert any("[session ended: no answer]" in line for line in lines)  # the second silence
    assert any(line.strip().startswith("[plays: ") for line in lines)
    assert any("(heard BreathingIntent" in line for line in lines)


def test_pause_and_resume_continue_from_the_offset_the_player_reported(chat_env: dict[str, str]) -> None:
    code, out, err = chat(chat_env, "start breathing", "pause", "resume", args=("--json",), close_with_quit=False)
    assert code == 0, err  # end of input (Ctrl-D) leaves cleanly too
    replies = json_replies(out)
    kinds = [reply["request_type"] for reply in replies]
    assert kinds == [
        "IntentRequest",  # start breathing → Play
        "AudioPlayer.PlaybackStarted",
        "IntentRequest",  # pause → Stop
        "AudioPlayer.PlaybackStopped",
        "IntentRequest",  # resume → Play at the stored offset
        "AudioPlayer.PlaybackStarted",
    ]
    first_play, stopped, resumed = replies[0]["playback"][0], replies[3], replies[4]["playback"][0]
    assert replies[2]["playback"] == [{"action": "stop"}]
    assert resumed["token"] == first_play["token"]
    assert resumed["offset_ms"] == stopped["player"]["offset_ms"]


def test_a_speaker_without_audio_player_gets_no_audio_player_directives(chat_env: dict[str, str]) -> None:
    code, out, err = chat(chat_env, ":json", "start breathing", args=("--speaker-only",))
    assert code == 0, err
    replies = [reply for reply in json_replies(out) if reply["request_type"]]
    assert len(replies) == 1
    assert replies[0]["playback"] == []
    assert all(not d["type"].startswith("AudioPlayer.") for d in replies[0]["directives"])


def test_a_bad_user_key_is_a_usage_error(chat_env: dict[str, str]) -> None:
    code, _, err = chat(chat_env, args=("--user", "../x"))
    assert code == 2
    assert "--user" in err


def test_chat_in_us_spanish_uses_the_spanish_model_words_and_lines(chat_env: dict[str, str]) -> None:
    code, out, err = chat(
        chat_env,
        "abre ayuda de bajada de leche",
        "dame un consejo",
        "me quiero morir",
        args=("--json", "--locale", "es-US"),
    )
    assert code == 0, err
    replies = [reply for reply in json_replies(out) if reply["request_type"]]
    assert replies[0]["request_type"] == "LaunchRequest"
    assert replies[0]["session_attributes"]["last_message"] == "launch.first"
    assert "Ayuda de Bajada de Leche" in replies[0]["speech"]
    assert replies[1]["heard"]["intent"] == "AnotherTipIntent"
    assert replies[2]["heard"]["intent"] == "CrisisIntent"
    assert "AYUDA" in replies[2]["speech"] and "988" in replies[2]["speech"]


def test_a_bad_locale_is_a_usage_error(chat_env: dict[str, str]) -> None:
    code, _out, err = chat(chat_env, args=("--locale", "english"))
    assert code == 2 and "locale" in err
