"""The Echo Show screen: Amazon's validator on every APL document, the circle's timing against the track
catalog's breathing pattern, and RenderDocument only for devices that declare APL.

The validator is the npm package `apl-suggester`, installed by `./dev test` from tools/apl/package-lock.json
and run with Node (tools/apl/validate.js). Without it these tests skip, except in CI, where they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from skill.alexa.deps import SkillDeps
from skill.alexa.screen import SCREEN_TOKEN, breathing_data
from skill.config import DEFAULT_AUDIO_DIR, Config
from skill.speech.content import ContentLibrary, plain_text
from skill.speech.screens import APL_DIR, BREATHING_DOCUMENT, ScreenLibrary
from tests.support.alexa import AlexaClient
from tests.support.pki import TestPKI
from tests.support.server import REPO_ROOT, threaded_server
from tests.test_coach import write_coach_audio_dir
from tests.test_conversation import check_response

APL_TOOLS = REPO_ROOT / "tools" / "apl"
CONTENT = ContentLibrary.load().locale("en-US")
_EXPRESSION = re.compile(r"^\$\{payload\.([A-Za-z.]+)(?:\s*-\s*(\d+))?\}$")


# ----- Amazon's validator -----------------------------------------------------------------------------------


def validator() -> list[str]:
    node = shutil.which("node")
    installed = (APL_TOOLS / "node_modules" / "apl-suggester").is_dir()
    if node and installed:
        return [node, str(APL_TOOLS / "validate.js")]
    message = "apl-suggester is not installed (./dev test runs npm ci in tools/apl)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def validate(*arguments: str) -> tuple[int, list[dict[str, Any]]]:
    run = subprocess.run([*validator(), *arguments], capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode in (0, 1), run.stderr
    return run.returncode, json.loads(run.stdout)["results"]


@pytest.fixture(scope="module")
def coach_audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_coach_audio_dir(tmp_path_factory.mktemp("apl-audio"))


@pytest.fixture
def show(make_app: Callable[..., Flask], coach_audio_dir: Path, pki: TestPKI) -> Iterator[AlexaClient]:
    """An Echo Show (AudioPlayer and APL) talking to the live service."""
    with threaded_server(make_app(LETDOWN_AUDIO_DIR=str(coach_audio_dir))) as base_url:
        yield AlexaClient(base_url=base_url, pki=pki, apl=True)


def render_documents(answer: dict[str, Any]) -> list[dict[str, Any]]:
    directives = answer["response"].get("directives") or []
    return [d for d in directives if d["type"] == "Alexa.Presentation.APL.RenderDocument"]


def test_every_apl_document_and_the_data_sent_pass_apl_suggester(show: AlexaClient, tmp_path: Path) -> None:
    documents = sorted(APL_DIR.glob("*.json"))
    assert [path.stem for path in documents] == ScreenLibrary.load().names() and documents
    sent = []
    for index, answer in enumerate([show.intent("LetDownIntent"), show.intent("AMAZON.NoIntent")]):
        [directive] = render_documents(answer)
        path = tmp_path / f"datasources-{index}.json"
        path.write_text(json.dumps(directive["datasources"]), encoding="utf-8")
        sent += ["--data", str(path)]
    show.session = None
    [breathing] = render_documents(show.intent("BreathingIntent"))
    (tmp_path / "breathing-data.json").write_text(json.dumps(breathing["datasources"]), encoding="utf-8")
    code, results = validate(*map(str, documents), *sent, "--data", str(tmp_path / "breathing-data.json"))
    assert [(Path(r["file"]).name, r["issues"]) for r in results if r["issues"]] == []
    assert code == 0 and len(results) == len(documents) + 3


def test_the_validator_reports_a_broken_document(tmp_path: Path) -> None:
    """The control: a document with wrong property types does not pass, so a pass above means something."""
    document = ScreenLibrary.load().document(BREATHING_DOCUMENT)
    text = find_component(document["mainTemplate"]["items"], "instruction")
    text["fontSize"], text["color"] = [40], 7
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document), encoding="utf-8")
    code, [result] = validate(str(broken))
    assert code == 1
    assert {issue["path"].rsplit("/", 1)[-1] for issue in result["issues"]} >= {"fontSize", "color"}


# ----- the circle's timing -------------------------------------------------------------------------------------


def find_component(items: list[dict[str, Any]], component_id: str) -> dict[str, Any]:
    for item in items:
        if item.get("id") == component_id:
            return item
        found = find_component(item.get("items", []), component_id) if item.get("items") else None
        if found:
            return found
    return {}


def evaluate(expression: Any, datasources: dict[str, Any]) -> Any:
    """The value of `${payload.a.b}` or `${payload.a.b - n}` against the data (all the document uses)."""
    if not isinstance(expression, str):
        return expression
    match = _EXPRESSION.match(expression)
    assert match, f"unexpected APL expression {expression!r}"
    value: Any = datasources
    for key in match.group(1).split("."):
        value = value[key]
    return value - int(match.group(2) or 0)


def breathing_animation(document: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """What the document animates on mount: the circle, how long each half of a breath takes, how often."""
    [sequence] = document["onMount"]
    assert sequence["type"] == "Sequential"
    inhale, exhale = sequence["commands"]
    assert inhale["type"] == exhale["type"] == "AnimateItem"
    assert inhale["componentId"] == exhale["componentId"] == "breathingCircle"
    assert find_component(document["mainTemplate"]["items"], "breathingCircle")["type"] == "Frame"
    scale = [[step["value"][0][end][0]["scale"] for end in ("from", "to")] for step in (inhale, exhale)]
    return {
        "inhale_ms": evaluate(inhale["duration"], data),
        "exhale_ms": evaluate(exhale["duration"], data),
        "breaths": evaluate(sequence["repeatCount"], data) + 1,
        "delay_ms": evaluate(sequence["delay"], data),
        "grows_then_shrinks": scale[0][0] < scale[0][1] and scale[1][0] > scale[1][1] and scale[0][1] == scale[1][0],
    }


def catalog_patterns() -> dict[str, dict[str, Any]]:
    """Track id → [track.pattern], read straight from audio/catalog.toml (not through the skill's reader)."""
    catalog = tomllib.loads((DEFAULT_AUDIO_DIR / "catalog.toml").read_text(encoding="utf-8"))
    return {track["id"]: track["pattern"] for track in catalog["track"] if "pattern" in track}


@pytest.mark.parametrize("track_id", sorted(catalog_patterns()))
def test_the_circle_breathes_in_time_with_the_tracks_pacing_tone(track_id: str) -> None:
    pattern = catalog_patterns()[track_id]
    deps = SkillDeps.load(Config.from_env({}))
    data = breathing_data(deps, "line", "step", track_id)
    assert data is not None
    animation = breathing_animation(ScreenLibrary.load().document(BREATHING_DOCUMENT), data)
    assert animation == {
        "inhale_ms": round(pattern["inhale_s"] * 1000),
        "exhale_ms": round(pattern["exhale_s"] * 1000),
        "breaths": pattern["cycles"],
        "delay_ms": round(pattern["first_in_s"] * 1000),
        "grows_then_shrinks": True,
    }


def test_a_round_whose_clip_has_no_pattern_breathes_at_the_catalogs_pace_for_the_whole_clip(
    coach_audio_dir: Path,
) -> None:
    deps = SkillDeps.load(Config.from_env({"LETDOWN_AUDIO_DIR": str(coach_audio_dir)}))
    pattern = deps.tracks.breathing_pattern(None)
    assert pattern is not None and deps.tracks.get("coach-warmth").breathing is None  # type: ignore[union-attr]
    data = breathing_data(deps, "line", "step", "coach-warmth", lead_s=5.0)
    animation = breathing_animation(ScreenLibrary.load().document(BREATHING_DOCUMENT), data or {})
    assert (animation["inhale_ms"], animation["exhale_ms"]) == (pattern.inhale_s * 1000, pattern.exhale_s * 1000)
    assert animation["breaths"] * pattern.period_s >= deps.tracks.get("coach-warmth").seconds  # type: ignore[union-attr]
    assert animation["delay_ms"] == 5000  # the circle waits for the spoken instruction before the clip


# ----- only for devices with a screen ---------------------------------------------------------------------------


def test_each_coach_round_renders_the_screen_only_on_apl_devices(show: AlexaClient) -> None:
    expected_document = json.loads((APL_DIR / f"{BREATHING_DOCUMENT}.json").read_text(encoding="utf-8"))
    screens = []
    for intent in ("LetDownIntent", "AMAZON.NoIntent"):
        answer = check_response(show.intent(intent))
        [directive] = render_documents(answer)
        assert directive["token"] == SCREEN_TOKEN and directive["document"] == expected_document
        screens.append(directive["datasources"]["breathing"]["properties"])
    assert screens[0]["instruction"] in {plain_text(v) for v in CONTENT.variants("coach.screen.breathing")}
    assert screens[1]["instruction"] in {plain_text(v) for v in CONTENT.variants("coach.screen.warmth")}
    assert [screen["step"] for screen in screens] == ["1 / 4", "2 / 4"]
    assert render_documents(show.intent("AMAZON.YesIntent")) == []  # the confirmation is not a round
    show.session, show.apl = None, False
    speaker = check_response(show.intent("LetDownIntent"))
    assert render_documents(speaker) == [] and speaker["response"].get("directives") is None


def test_breathing_renders_the_screen_beside_the_track_only_on_apl_devices(show: AlexaClient) -> None:
    with_screen = show.intent("BreathingIntent", duration="PT2M")
    types = [d["type"] for d in with_screen["response"]["directives"]]
    assert types == ["AudioPlayer.Play", "Alexa.Presentation.APL.RenderDocument"]
    data = with_screen["response"]["directives"][1]["datasources"]["breathing"]["properties"]
    assert data["instruction"] in {plain_text(v) for v in CONTENT.variants("screen.breathing")}
    show.apl = False
    without = show.intent("BreathingIntent", duration="PT2M")
    assert [d["type"] for d in without["response"]["directives"]] == ["AudioPlayer.Play"]
    assert set(without["response"]) == set(with_screen["response"])  # otherwise the same response
    assert without["response"]["shouldEndSession"] is with_screen["response"]["shouldEndSession"] is True
