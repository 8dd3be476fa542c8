"""The interaction model: Alexa's rules, consistency with the handlers, and the resolver built on it."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from skill.config import DEFAULT_MODEL_DIR
from skill.interaction_model import DURATION_TYPE, FALLBACK_INTENT, LAUNCH
from skill.speech.content import ContentLibrary
from skill.text import spoken_form
from skill.tools.model_build import build_model_text, grammar_path
from skill.tools.model_check import (
    MAX_INTENTS,
    MAX_MODEL_CHARACTERS,
    MAX_SAMPLE_CHARACTERS,
    MAX_SAMPLES_PER_INTENT,
    MAX_SLOT_VALUE_CHARACTERS,
    MAX_SLOT_VALUES_AND_SYNONYMS,
    SEARCH_QUERY_TYPE,
    check_model,
    grammar_problems,
    invocation_name_problems,
    model_problems,
)
from skill.tools.resolver import Resolver, spoken_duration_iso
from tests.support.server import REPO_ROOT

MODEL_PATH = DEFAULT_MODEL_DIR / "en-US.json"
GRAMMAR_PATH = grammar_path(DEFAULT_MODEL_DIR, "en-US")
MODEL = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
PUBLISHING = json.loads((DEFAULT_MODEL_DIR / "publishing.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def resolver() -> Resolver:
    return Resolver.from_model(MODEL_PATH, ContentLibrary.load().locale("en-US"))


def language(document: dict[str, Any]) -> dict[str, Any]:
    return document["interactionModel"]["languageModel"]


def intent_named(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(intent for intent in language(document)["intents"] if intent["name"] == name)


def samples_with_slots_filled() -> dict[str, list[tuple[str, dict[str, str]]]]:
    """Intent → (utterance, slot → expected id or ISO duration) for every sample of the model."""
    types = {t["name"]: t["values"] for t in language(MODEL).get("types", [])}
    cases: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for intent in language(MODEL)["intents"]:
        slot_types = {slot["name"]: slot["type"] for slot in intent.get("slots", [])}
        if SEARCH_QUERY_TYPE in slot_types.values():
            continue  # free-text carriers: what they mean is their query's intent (the second stage's tests)
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

            cases.setdefault(intent["name"], []).append((re.sub(r"\{(\w+)\}", fill, sample), expected))
    return cases


SAMPLE_CASES = samples_with_slots_filled()


# --- letdown model check ---------------------------------------------------------------------------------


@pytest.mark.slow  # runs `letdown model check` as a process
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


@pytest.mark.slow  # runs `letdown model check` as a process
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


@pytest.mark.parametrize("intent", sorted(SAMPLE_CASES))
def test_every_sample_resolves_to_its_own_intent(resolver: Resolver, intent: str) -> None:
    """One test per intent over all of its samples, listing every sample that resolves elsewhere."""
    failures = []
    for utterance, expected_slots in SAMPLE_CASES[intent]:
        resolution = resolver.resolve(utterance)
        if resolution.intent != intent:
            failures.append(f"{utterance!r} -> {resolution.intent}")
            continue
        for slot, expected in expected_slots.items():
            value = resolution.slots[slot]
            if expected not in (value["id"], value["value"]):
                failures.append(f"{utterance!r}: slot {slot} = {value}, expected {expected}")
    total = len(SAMPLE_CASES[intent])
    assert not failures, f"{len(failures)} of {total} samples of {intent} fail:\n" + "\n".join(failures)


def test_store_card_example_phrases_are_samples_that_work() -> None:
    """Every locale's three example phrases: the request part is one of that locale's samples, and resolves."""
    content = ContentLibrary.load()
    for locale, card in PUBLISHING.items():
        model_path = DEFAULT_MODEL_DIR / f"{locale}.json"
        model = json.loads(model_path.read_text(encoding="utf-8"))
        resolver = Resolver.from_model(model_path, content.locale(locale))
        all_samples = {spoken_form(s) for intent in language(model)["intents"] for s in intent.get("samples", [])}
        invocation = language(model)["invocationName"]
        assert len(card["examplePhrases"]) == 3, locale
        for phrase in card["examplePhrases"]:
            resolution = resolver.resolve(phrase)
            assert resolution.intent in {i["name"] for i in language(model)["intents"]}, phrase
            assert resolution.intent not in (FALLBACK_INTENT, LAUNCH), phrase
            launch = r"(ask|tell|open|pide a|pregunta a|dile a)"
            request = re.sub(rf"^alexa,? {launch} {invocation} (to |for |about )?", "", phrase.lower())
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


# --- Amazon's limits, SearchQuery rules, conflicts after normalisation ------------------------------------


def test_conflicts_are_found_after_normalisation_and_name_both_intents() -> None:
    broken = copy.deepcopy(MODEL)
    intent_named(broken, "PainTipIntent")["samples"].append("My Nipples HURT!")
    intent_named(broken, "MassageTipIntent")["samples"].append("how do I massage my breasts")
    problems = "\n".join(model_problems(broken)[0])
    assert "sample 'My Nipples HURT!' is twice in PainTipIntent" in problems
    assert "sample 'how do I massage my breasts' is twice in MassageTipIntent" in problems
    moved = copy.deepcopy(MODEL)
    intent_named(moved, "WarmthTipIntent")["samples"].append("My milk-is STUCK")
    intent_named(moved, "PlayTrackIntent")["samples"].append("give me a tip about {track}")
    problems = "\n".join(model_problems(moved)[0])
    assert "sample 'My milk-is STUCK' is in both LetDownIntent (as 'my milk is stuck') and WarmthTipIntent" in problems
    as_topic = "(as 'give me a tip about {topic}')"
    assert f"sample 'give me a tip about {{track}}' is in both TipIntent {as_topic} and PlayTrackIntent" in problems


def test_amazon_size_limits_are_checked() -> None:
    broken = copy.deepcopy(MODEL)
    intent_named(broken, "RelaxTipIntent")["samples"].append("please " * (MAX_SAMPLE_CHARACTERS // 7 + 1) + "relax")
    intent_named(broken, "ComfortTipIntent")["samples"] = [
        f"sit {'very ' * n}comfortably" for n in range(MAX_SAMPLES_PER_INTENT + 1)
    ]
    types = language(broken)["types"]
    types[0]["values"][0]["name"]["synonyms"].append("calm " * (MAX_SLOT_VALUE_CHARACTERS // 5 + 1))
    problems = "\n".join(model_problems(broken)[0])
    assert f"is longer than {MAX_SAMPLE_CHARACTERS} characters" in problems
    assert f"ComfortTipIntent: {MAX_SAMPLES_PER_INTENT + 1} samples, Amazon allows at most" in problems
    assert f"is longer than {MAX_SLOT_VALUE_CHARACTERS} characters" in problems
    huge = copy.deepcopy(MODEL)
    values = [{"id": f"v{n}", "name": {"value": f"value {n}", "synonyms": []}} for n in range(50_001)]
    language(huge)["types"].append({"name": "HugeType", "values": values})
    problems = "\n".join(model_problems(huge)[0])
    assert f"slot values and synonyms, Amazon allows {MAX_SLOT_VALUES_AND_SYNONYMS}" in problems
    assert f"Amazon accepts at most {MAX_MODEL_CHARACTERS}" in problems


def test_the_model_is_within_amazon_limits_with_room_to_grow() -> None:
    problems, summary = model_problems(MODEL)
    assert problems == []
    assert summary["characters"] < MAX_MODEL_CHARACTERS * 0.8  # compact, as `letdown package` writes it


def test_search_query_rules() -> None:
    broken = copy.deepcopy(MODEL)
    language(broken)["intents"].append(
        {
            "name": "FreeTextBrokenIntent",
            "slots": [
                {"name": "query", "type": "AMAZON.SearchQuery"},
                {"name": "other", "type": "AMAZON.SearchQuery"},
                {"name": "topic", "type": "TipTopic"},
            ],
            "samples": [
                "{query}",
                "I feel {query} and {other}",
                *(f"I feel {w} {{query}}" for w in "abcdefghijklmnopqrst"),
            ],
        }
    )
    problems = "\n".join(model_problems(broken)[0])
    assert "FreeTextBrokenIntent: sample '{query}' needs a carrier phrase" in problems
    assert "sample 'I feel {query} and {other}' has more than one AMAZON.SearchQuery slot" in problems
    assert "FreeTextBrokenIntent: an intent with an AMAZON.SearchQuery slot cannot have other slots" in problems


def test_too_many_intents_is_a_problem() -> None:
    crowded = copy.deepcopy(MODEL)
    letters = [f"{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(MAX_INTENTS)]
    extra = [
        {
            "name": f"FreeTextExtra{pair.upper()}Intent",
            "slots": [{"name": "query", "type": "AMAZON.SearchQuery"}],
            "samples": [f"word{pair} {{query}}"],
        }
        for pair in letters
    ]
    language(crowded)["intents"].extend(extra)
    problems = model_problems(crowded)[0]
    assert f"{len(language(crowded)['intents'])} intents, more than the {MAX_INTENTS} this check allows" in problems
    assert len(language(MODEL)["intents"]) <= MAX_INTENTS and not model_problems(MODEL)[0]


# --- the grammar and the committed JSON --------------------------------------------------------------------


def copy_model_dir(target: Path) -> Path:
    (target / "grammar").mkdir(parents=True)
    shutil.copy(GRAMMAR_PATH, target / "grammar" / "en-US.yaml")
    shutil.copy(MODEL_PATH, target / "en-US.json")
    return target / "en-US.json"


def letdown(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skill.cli", "--log-level", "WARNING", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_the_committed_model_is_what_the_grammar_builds() -> None:
    assert MODEL_PATH.read_text(encoding="utf-8") == build_model_text(GRAMMAR_PATH)
    assert grammar_problems(MODEL_PATH) == ([], [])


def test_letdown_model_build_writes_the_same_file_every_time(tmp_path: Path) -> None:
    model = copy_model_dir(tmp_path)
    model.write_text("{}", encoding="utf-8")
    first = letdown("model", "build", "--locale", "en-US", "--model-dir", str(tmp_path))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "written" in first.stdout
    assert model.read_bytes() == MODEL_PATH.read_bytes()
    again = letdown("model", "build", "--model-dir", str(tmp_path))
    assert again.returncode == 0 and "unchanged" in again.stdout


def test_model_check_fails_when_the_json_and_the_grammar_disagree(tmp_path: Path) -> None:
    model = copy_model_dir(tmp_path)
    grammar = tmp_path / "grammar" / "en-US.yaml"
    grammar.write_text(
        grammar.read_text(encoding="utf-8").replace(
            "  LetDownIntent:\n    samples:\n", '  LetDownIntent:\n    samples:\n      - "no flow at all tonight"\n'
        ),
        "utf-8",
    )
    result = letdown("model", "check", "--model-only", "--model", str(model))
    assert result.returncode == 1
    assert "is not what" in result.stdout and "run `letdown model build`" in result.stdout
    grammar.write_text("invocation_name: let down helper\nintents: {X: {samples: ['(broken']}}\n", "utf-8")
    broken = check_model(model, with_code=False)
    assert any("cannot be built" in problem and "cannot parse" in problem for problem in broken.problems)


def test_letdown_model_build_reports_a_broken_grammar(tmp_path: Path) -> None:
    (tmp_path / "grammar").mkdir()
    (tmp_path / "grammar" / "en-US.yaml").write_text("invocation_name: x y\nintents: {X: {samples: ['<nope>']}}\n")
    result = letdown("model", "build", "--model-dir", str(tmp_path))
    assert result.returncode == 1
    assert "Missing expansion rule <nope>" in result.stdout
    assert not (tmp_path / "en-US.json").exists()


# --- coverage: how parents talk ------------------------------------------------------------------------------

CONTENT_INTENT_MIN_SAMPLES = 150
# Where people vary most (the request itself, D-MER, every safety route): more.
VARIED_INTENT_MIN_SAMPLES = 200
VARIED_INTENTS = (
    "LetDownIntent", "DmerIntent", "DmerCopingIntent", "CrisisIntent", "HarmFearIntent", "BabyHealthIntent",
    "PhysicalRedFlagIntent", "LowMoodIntent",
)  # fmt: skip
# Phrasings the issue names (speech-recognition spellings, fragments, pumping words), each in its intent.
NAMED_PHRASINGS = {
    "help my letdown": "LetDownIntent",
    "help my let down": "LetDownIntent",
    "no let down": "LetDownIntent",
    "no letdown": "LetDownIntent",
    "not flowing": "LetDownIntent",
    "milk won't come": "LetDownIntent",
    "nothing's dripping": "LetDownIntent",
    "my baby's fussing at the breast": "LetDownIntent",
    "nothing is coming out of my boob": "LetDownIntent",
    "nothing's coming out of my side": "LetDownIntent",
    "nothing's coming out of the flange": "LetDownIntent",
    "the pump isn't getting anything out": "LetDownIntent",
    "my milk won't let down": "LetDownIntent",
    "what is a letdown": "AboutLetDownIntent",
    "what does d mer stand for": "DmerIntent",
    "what does dee mer stand for": "DmerIntent",
    "what is demur": "DmerIntent",
    "what is dmer": "DmerIntent",
    "d mer": "DmerIntent",
    "how do I cope with demur": "DmerCopingIntent",
    "I'm scared I might hurt my baby": "HarmFearIntent",
    "my baby hasn't had a wet diaper today": "BabyHealthIntent",
    "my baby is very sleepy and won't feed": "BabyHealthIntent",
    "my newborn has a fever": "BabyHealthIntent",
    "my baby is hard to wake": "BabyHealthIntent",
    "there's no point in living": "CrisisIntent",
    "my nipples are cracked and bleeding": "PhysicalRedFlagIntent",
    "there's a hard lump in my breast": "PhysicalRedFlagIntent",
}


def custom_intents() -> list[dict[str, Any]]:
    return [
        intent
        for intent in language(MODEL)["intents"]
        if not intent["name"].startswith("AMAZON.")
        and SEARCH_QUERY_TYPE not in {slot["type"] for slot in intent.get("slots", [])}
    ]


@pytest.mark.parametrize("intent", custom_intents(), ids=lambda intent: intent["name"])
def test_every_content_intent_has_many_distinct_samples(intent: dict[str, Any]) -> None:
    wanted = VARIED_INTENT_MIN_SAMPLES if intent["name"] in VARIED_INTENTS else CONTENT_INTENT_MIN_SAMPLES
    distinct = {spoken_form(sample) for sample in intent["samples"]}
    assert len(distinct) >= wanted, f"{intent['name']}: {len(distinct)} distinct samples"


def test_the_phrasings_parents_use_are_samples_of_their_intents() -> None:
    owners = {
        spoken_form(sample): intent["name"] for intent in language(MODEL)["intents"] for sample in intent["samples"]
    }
    wrong = {phrase: owners.get(spoken_form(phrase)) for phrase, intent in NAMED_PHRASINGS.items()}
    assert {phrase: owner for phrase, owner in wrong.items() if owner != NAMED_PHRASINGS[phrase]} == {}


def test_the_free_text_intents_are_carrier_phrases_around_one_search_query() -> None:
    intents = language(MODEL)["intents"]
    names = [intent["name"] for intent in intents]
    free_text = [intent for intent in intents if intent["name"].startswith("FreeText")]
    assert free_text[0]["name"] == "FreeTextIntent"
    assert {"um {query}", "okay so {query}"} <= set(free_text[0]["samples"])
    siblings = {intent["name"]: intent["samples"] for intent in free_text[1:]}
    # one carrier phrase each, so the handler knows which words to put back around {query}
    assert siblings["FreeTextWhyIntent"] == ["why {query}"]
    assert siblings["FreeTextMyIntent"] == ["my {query}"]
    assert siblings["FreeTextWhatsIntent"] == ["what's {query}"]
    assert siblings["FreeTextEndAtAllIntent"] == ["{query} at all"]
    for intent in free_text:
        assert intent["slots"] == [{"name": "query", "type": SEARCH_QUERY_TYPE}]
        for sample in intent["samples"]:
            assert sample.count("{query}") == 1 and sample.replace("{query}", "").strip(), sample
    # kept after the content intents, with only Alexa's built-ins after them
    last = names.index(free_text[-1]["name"])
    assert names.index("FreeTextIntent") + len(free_text) - 1 == last
    assert all(name.startswith("AMAZON.") for name in names[last + 1 :])
    fallback = language(MODEL)["modelConfiguration"]["fallbackIntentSensitivity"]["level"]
    assert fallback == "LOW"
