"""The interaction model: Alexa's rules, consistency with the handlers, and the resolver built on it."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from skill.config import DEFAULT_MODEL_DIR
from skill.interaction_model import DURATION_TYPE, FALLBACK_INTENT, LAUNCH
from skill.speech.content import ContentLibrary
from skill.text import spoken_form
from skill.tools.model_check import check_model, invocation_name_problems, model_problems
from skill.tools.resolver import Resolver, spoken_duration_iso
from tests.support.server import REPO_ROOT

MODEL_PATH = DEFAULT_MODEL_DIR / "en-US.json"
MODEL = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
PUBLISHING = json.loads((DEFAULT_MODEL_DIR / "publishing.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def resolver() -> Resolver:
    return Resolver.from_model(MODEL_PATH, ContentLibrary.load().locale("en-US"))


def language(document: dict[str, Any]) -> dict[str, Any]:
    return document["interactionModel"]["languageModel"]


def intent_named(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(intent for intent in language(document)["intents"] if intent["name"] == name)


def samples_with_slots_filled() -> list[tuple[str, str, dict[str, str]]]:
    """(intent, utterance, slot → expected id or ISO duration) for every sample of the model."""
    types = {t["name"]: t["values"] for t in language(MODEL).get("types", [])}
    cases = []
    for intent in language(MODEL)["intents"]:
        slot_types = {slot["name"]: slot["type"] for slot in intent.get("slots", [])}
        for sample in intent.get("samples", []):
            expected: dict[str, str] = {}

            def fill(match: re.Match[str], slot_types: dict[str, str] = slot_types, expected=expected) -> str:
                name = match.group(1)
                if slot_types[name] == DURATION_TYPE:
                    expected[name] = "PT5M"
                    return "five minutes"
                value = types[slot_types[name]][0]
                expected[name] = value.get("id") or value["name"]["value"]
                return value["name"]["value"]

            cases.append((intent["name"], re.sub(r"\{(\w+)\}", fill, sample), expected))
    return cases


# --- letdown model check ---------------------------------------------------------------------------------


def test_letdown_model_check_passes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "skill.cli", "--log-level", "WARNING", "model", "check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout


def test_model_check_fails_on_a_broken_model(tmp_path: Path) -> None:
    broken = copy.deepcopy(MODEL)
    intent_named(broken, "RelaxTipIntent")["samples"].append("give me 5 tips")
    target = tmp_path / "en-US.json"
    target.write_text(json.dumps(broken), encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "skill.cli",
            "--log-level",
            "WARNING",
            "model",
            "check",
            "--model",
            str(target),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "digits" in result.stdout


def test_the_model_follows_alexa_rules() -> None:
    problems, summary = model_problems(MODEL)
    assert problems == []
    assert summary["invocation_name"] == "let down helper"


@pytest.mark.parametrize(
    ("name", "complaint"),
    [
        ("helper", "two words"),
        ("open let down helper", "launch word"),
        ("alexa let down", "wake word"),
        ("the helper", "connecting word"),
        ("let down helper 2", "lowercase"),
        ("Let Down Helper", "lowercase"),
    ],
)
def test_invocation_name_rules(name: str, complaint: str) -> None:
    assert any(complaint in problem for problem in invocation_name_problems(name))


def test_model_rules_catch_each_kind_of_mistake() -> None:
    broken = copy.deepcopy(MODEL)
    intents = language(broken)["intents"]
    intent_named(broken, "PainTipIntent")["samples"].append(intent_named(broken, "RelaxTipIntent")["samples"][0])
    intent_named(broken, "MassageTipIntent")["samples"] = intent_named(broken, "MassageTipIntent")["samples"][:5]
    intent_named(broken, "ComfortTipIntent")["samples"].append("sit for {minutes}")
    intent_named(broken, "BabyFocusTipIntent")["samples"].append("look at my baby!")
    language(broken)["intents"] = [
        i for i in intents if i["name"] not in ("AMAZON.FallbackIntent", "AMAZON.PauseIntent")
    ]
    problems = "\n".join(model_problems(broken)[0])
    assert "is in both RelaxTipIntent and PainTipIntent" in problems
    assert "MassageTipIntent: 5 samples" in problems
    assert "undeclared slot {minutes}" in problems
    assert "characters Alexa does not allow" in problems
    assert "AMAZON.FallbackIntent is missing" in problems
    assert "AMAZON.PauseIntent is missing" in problems


def test_code_check_finds_intents_without_handlers_and_handlers_without_intents(tmp_path: Path) -> None:
    changed = copy.deepcopy(MODEL)
    intents = language(changed)["intents"]
    intents.append({"name": "LullabyIntent", "samples": [f"sing lullaby number {w}" for w in "abcdefghijklmnopqrstu"]})
    language(changed)["intents"] = [i for i in intents if i["name"] != "WhisperOffIntent"]
    target = tmp_path / "en-US.json"
    target.write_text(json.dumps(changed), encoding="utf-8")
    report = check_model(target)
    assert "model intent LullabyIntent has no handler" in report.problems
    assert "a handler answers WhisperOffIntent, which is not in the model" in report.problems


# --- the resolver ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("intent", "utterance", "expected_slots"), samples_with_slots_filled())
def test_every_sample_resolves_to_its_own_intent(
    resolver: Resolver, intent: str, utterance: str, expected_slots: dict[str, str]
) -> None:
    resolution = resolver.resolve(utterance)
    assert resolution.intent == intent, utterance
    for slot, expected in expected_slots.items():
        value = resolution.slots[slot]
        assert expected in (value["id"], value["value"]), (utterance, value)


def test_store_card_example_phrases_are_samples_that_work(resolver: Resolver) -> None:
    all_samples = {spoken_form(s) for intent in language(MODEL)["intents"] for s in intent.get("samples", [])}
    for locale, card in PUBLISHING.items():
        assert len(card["examplePhrases"]) == 3, locale
        for phrase in card["examplePhrases"]:
            resolution = resolver.resolve(phrase)
            assert resolution.intent in {i["name"] for i in language(MODEL)["intents"]}, phrase
            assert resolution.intent not in (FALLBACK_INTENT, LAUNCH), phrase
            request = re.sub(r"^alexa,? (ask|tell|open) let down helper (to |for |about )?", "", phrase.lower())
            assert spoken_form(request) in all_samples, phrase


def test_store_card_policy_fields() -> None:
    for card in PUBLISHING.values():
        assert card["category"] == "HEALTH_AND_FITNESS"
        assert card["isChildDirected"] is False
        assert card["usesHealthInfo"] is False


@pytest.mark.parametrize(
    ("utterance", "intent"),
    [
        ("I feel hopeless when my milk lets down", "CrisisIntent"),
        ("I can't do this anymore, the baby won't latch", "CrisisIntent"),
        ("I have a fever and my breast is hot", "PhysicalRedFlagIntent"),
        ("I've been so depressed since the birth", "LowMoodIntent"),
        ("I feel sad when my milk lets down", "DmerIntent"),
        ("open let down helper", LAUNCH),
        ("ask let down helper to", LAUNCH),
        ("Alexa, ask let down helper for another tip", "AnotherTipIntent"),
        ("what's the weather in Paris", FALLBACK_INTENT),
        ("order me a pizza", FALLBACK_INTENT),
        ("yes please", "AMAZON.YesIntent"),
        ("say that again", "AMAZON.RepeatIntent"),
        ("stop", "AMAZON.StopIntent"),
        ("pause", "AMAZON.PauseIntent"),
        ("start over", "AMAZON.StartOverIntent"),
        ("my nipples are really sore tonight", "PainTipIntent"),
        ("my milk just won't let down tonight", "LetDownIntent"),
    ],
)
def test_resolver_routes_everyday_wording(resolver: Resolver, utterance: str, intent: str) -> None:
    assert resolver.resolve(utterance).intent == intent


def test_resolver_slots(resolver: Resolver) -> None:
    breathing = resolver.resolve("breathe with me for 10 minutes")
    assert breathing.intent == "BreathingIntent"
    assert breathing.slots["duration"] == {"value": "PT10M", "id": None}
    assert resolver.resolve("breathe with me for 1000 minutes").slots["duration"]["value"] == "PT16H40M"
    unfilled = resolver.resolve("breathe with me")
    assert unfilled.slots["duration"] == {"value": None, "id": None}
    topic = resolver.resolve("give me a tip about heat")
    assert topic.slots["topic"] == {"value": "heat", "id": "warmth"}
    unknown = resolver.resolve("give me a tip about my taxes")
    assert unknown.intent == "TipIntent"
    assert unknown.slots["topic"] == {"value": "my taxes", "id": None}


@pytest.mark.parametrize(
    ("spoken", "iso"),
    [
        ("ten minutes", "PT10M"),
        ("two minutes", "PT2M"),
        ("a minute", "PT1M"),
        ("5 minutes", "PT5M"),
        ("ninety seconds", "PT1M30S"),
        ("a minute and a half", "PT1M30S"),
        ("half an hour", "PT30M"),
        ("twenty five minutes", "PT25M"),
        ("1000 minutes", "PT16H40M"),
        ("soon", None),
    ],
)
def test_durations(spoken: str, iso: str | None) -> None:
    assert spoken_duration_iso(spoken) == iso


def test_resolver_is_pure(resolver: Resolver) -> None:
    first = [resolver.resolve(u) for u in ("another tip", "tell me more", "give me a tip about heat")]
    again = [resolver.resolve(u) for u in ("another tip", "tell me more", "give me a tip about heat")]
    assert first == again
