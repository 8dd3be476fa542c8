"""The safety lexicon (data) and the one safety decision: positive and negative cases from data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from skill.conversation.safety import ROUTE_PRECEDENCE, SAFETY_INTENTS
from skill.interaction_model import InteractionModel
from skill.speech.content import ContentLibrary
from skill.understanding.resolver import FREE_TEXT_SLOT, is_free_text_intent
from skill.understanding.safety import LEXICON_KEY, LexiconError, SafetyLexicon, decide

CASES = yaml.safe_load((Path(__file__).parent / "safety_cases.yaml").read_text(encoding="utf-8"))["cases"]
CONTENT = ContentLibrary.load().locale("en-US")
LEXICON = SafetyLexicon.from_content(CONTENT)
MODEL_DIR = Path(__file__).resolve().parents[2] / "interaction_model"
# Carriers that end in a negation ("I can't {query}") leave a query that says the opposite of the sentence
# ("I can't go on" → "go on"); no lexicon can read those, so they are left out here (reported to the lead).
NEGATING_CARRIER_ENDINGS = ("can't", "cannot", "don't", "won't", "not", "never")


def expected(case: dict[str, Any]) -> str | None:
    return None if case["route"] == "none" else case["route"]


@pytest.mark.parametrize("case", CASES, ids=[case["text"] for case in CASES])
def test_lexicon_routes_each_case(case: dict[str, Any]) -> None:
    assert LEXICON.route([case["text"]]) == expected(case)


def free_text_carriers(locale: str) -> tuple[str, ...]:
    """The carrier phrases of the model's free-text intents ("my baby {query}" → "my baby"), lower case."""
    model = InteractionModel.load(MODEL_DIR / f"{locale}.json")
    slot = "{" + FREE_TEXT_SLOT + "}"
    carriers = {
        sample[: -len(slot)].strip().lower()
        for intent in model.intents.values()
        if is_free_text_intent(intent.name)
        for sample in intent.samples
        if sample.endswith(slot)
    }
    return tuple(sorted(c for c in carriers if c and not c.endswith(NEGATING_CARRIER_ENDINGS)))


def carrier_cut_queries(text: str, carriers: tuple[str, ...]) -> list[str]:
    """What the free-text stage hears of a sentence: the rest after each carrier that starts it."""
    spoken = text.lower().replace("\u2019", "'")
    return [spoken[len(carrier) :].strip() for carrier in carriers if spoken.startswith(carrier + " ")]


EN_CARRIERS = free_text_carriers("en-US")


@pytest.mark.parametrize("case", CASES, ids=[case["text"] for case in CASES])
def test_lexicon_hears_each_case_without_its_carrier(case: dict[str, Any]) -> None:
    """A device sends only {query}: a safety case must still be caught, ordinary talk must still raise no alarm."""
    for query in carrier_cut_queries(case["text"], EN_CARRIERS):
        route = LEXICON.route([query])
        assert (route is None) == (expected(case) is None), (query, route)


def test_carriers_are_read_from_the_model() -> None:
    assert {"my baby", "i feel", "the baby"} <= set(EN_CARRIERS)
    assert "i can't" not in EN_CARRIERS
    queries = carrier_cut_queries("My baby won't wake up to eat", EN_CARRIERS)
    assert queries == ["baby won't wake up to eat", "won't wake up to eat"]


def test_cases_cover_every_route_and_ordinary_talk() -> None:
    routes = [expected(case) for case in CASES]
    for route in ROUTE_PRECEDENCE:
        assert routes.count(route) >= 5, route
    assert routes.count(None) >= 30


def test_every_entry_has_a_source_and_every_route_has_entries() -> None:
    assert {entry.route for entry in LEXICON.entries} == set(ROUTE_PRECEDENCE)
    assert all(entry.source for entry in LEXICON.entries)
    assert LEXICON.watch


def test_any_text_of_the_request_counts() -> None:
    assert LEXICON.route(["warmth", None, "", "I want to disappear"]) == "crisis"
    assert LEXICON.route([None, ""]) is None


@pytest.mark.parametrize(
    ("intent", "texts", "route"),
    [
        ("CrisisIntent", [], "crisis"),
        ("HarmFearIntent", [], "harm_fear"),
        ("BabyHealthIntent", [], "baby_health"),
        ("PhysicalRedFlagIntent", [], "physical"),
        ("LowMoodIntent", [], "low_mood"),
        ("PhysicalRedFlagIntent", ["and I want to die"], "crisis"),  # the text outranks the intent
        ("LowMoodIntent", ["my baby has no wet diapers"], "baby_health"),
        ("TipIntent", ["a red wedge on my breast"], "physical"),
        ("TipIntent", ["warmth"], None),
        ("DmerIntent", [], None),
        (None, ["it tingles when my milk lets down"], None),
    ],
)
def test_decide_takes_intent_and_text_by_precedence(intent: str | None, texts: list[str], route: str | None) -> None:
    assert decide(LEXICON, intent, texts) == route


def test_safety_intents_cover_every_route() -> None:
    assert set(SAFETY_INTENTS.values()) == set(ROUTE_PRECEDENCE)


def test_watch_words_look_sensitive_but_do_not_route() -> None:
    assert LEXICON.looks_sensitive("I keep feeling sick")
    assert LEXICON.route(["I keep feeling sick"]) is None
    assert not LEXICON.looks_sensitive("help my milk let down")


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"routes": {"crisis": [{"phrases": ["x"]}]}}, "source"),
        ({"routes": {"crisis": [{"pattern": "(", "source": "s"}]}}, "bad regular expression"),
        ({"routes": {"crisis": [{"phrases": ["x"], "pattern": "x", "source": "s"}]}}, "exactly one"),
        ({"routes": {"panic": [{"phrases": ["x"], "source": "s"}]}}, "unknown safety routes"),
        ({"routes": {"crisis": ["x"]}}, "mapping"),
        ({"families": {"fever": []}, "routes": {}}, "family fever"),
        ({"families": {"Fever": ["x"]}, "routes": {}}, "lower-case"),
        ({"routes": {"crisis": [{"pattern": "{nope}", "source": "s"}]}}, "unknown family"),
        ({"families": {"b": "{a}", "a": ["x"]}, "routes": {}}, "unknown family"),
    ],
)
def test_malformed_lexicon_is_rejected_with_a_reason(data: dict[str, Any], problem: str) -> None:
    with pytest.raises(LexiconError, match=problem):
        SafetyLexicon.from_data(data)


def test_families_name_word_groups_in_rules_and_may_build_on_earlier_ones() -> None:
    lexicon = SafetyLexicon.from_data(
        {
            "families": {"sign": ["fever", "chills"], "breast": ["breast", "boob"], "sign_or_lump": "{sign}|lump"},
            "routes": {
                "physical": [{"pattern": r"\b{sign_or_lump}\b", "requires": [r"\b{breast}\b"], "source": "s"}]
            },
        }
    )
    assert lexicon.route(["chills and a sore boob"]) == "physical"
    assert lexicon.route(["a lump in my breast"]) == "physical"
    assert lexicon.route(["chills"]) is None  # the co-occurrence is required
    assert lexicon.route(["a quantifier {0,3} is not a family"]) is None


def test_negation_cues_are_words_not_yaml_booleans() -> None:
    cues = CONTENT.data(LEXICON_KEY)["negation_cues"]
    assert all(isinstance(cue, str) for cue in cues)
    assert LEXICON.route(["no fever, just tired"]) is None
    assert LEXICON.route(["a fever, just tired"]) == "physical"


SPANISH_CASES = yaml.safe_load((Path(__file__).parent / "safety_cases_es_us.yaml").read_text(encoding="utf-8"))["cases"]


@pytest.mark.parametrize("case", SPANISH_CASES, ids=[case["text"] for case in SPANISH_CASES])
def test_spanish_lexicon_routes_each_case(case: dict[str, Any]) -> None:
    lexicon = SafetyLexicon.from_content(ContentLibrary.load().locale("es-US"))
    assert lexicon.route([case["text"]]) == expected(case)


def test_english_locales_inherit_the_us_lexicon_and_spanish_has_its_own() -> None:
    library = ContentLibrary.load()
    spanish = SafetyLexicon.from_content(library.locale("es-US"))
    assert {entry.route for entry in spanish.entries} == set(ROUTE_PRECEDENCE)
    assert all(entry.source for entry in spanish.entries) and spanish.watch
    assert spanish.route(["I want to die"]) is None  # English words are not Spanish ones
    for locale in ("en-GB", "en-CA", "en-AU", "en-IN", "en-NZ"):
        assert SafetyLexicon.from_content(library.locale(locale)).route(["I want to die"]) == "crisis", locale
