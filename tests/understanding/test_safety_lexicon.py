"""The safety lexicon (data) and the one safety decision: positive and negative cases from data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from skill.conversation.safety import ROUTE_PRECEDENCE, SAFETY_INTENTS
from skill.interaction_model import InteractionModel
from skill.speech.content import ContentLibrary
from skill.understanding.resolver import FREE_TEXT_SLOT, Resolver, is_free_text_intent
from skill.understanding.safety import LEXICON_KEY, LexiconError, SafetyLexicon, decide

CASES = yaml.safe_load((Path(__file__).parent / "safety_cases.yaml").read_text(encoding="utf-8"))["cases"]
CONTENT = ContentLibrary.load().locale("en-US")
LEXICON = SafetyLexicon.from_content(CONTENT)
MODEL_DIR = Path(__file__).resolve().parents[2] / "interaction_model"


def expected(case: dict[str, Any]) -> str | None:
    return None if case["route"] == "none" else case["route"]


@pytest.mark.parametrize("case", CASES, ids=[case["text"] for case in CASES])
def test_lexicon_routes_each_case(case: dict[str, Any]) -> None:
    assert LEXICON.route([case["text"]]) == expected(case)


def free_text_frames(locale: str) -> tuple[Resolver, tuple[tuple[str, str, str], ...]]:
    """The model's free-text carriers: (intent, opening, ending) for every sample "<opening> {query} <ending>"."""
    resolver = Resolver(InteractionModel.load(MODEL_DIR / f"{locale}.json"))
    slot = "{" + FREE_TEXT_SLOT + "}"
    frames = {
        (intent.name, *(part.strip().lower() for part in sample.split(slot, 1)))
        for intent in resolver.model.intents.values()
        if is_free_text_intent(intent.name)
        for sample in intent.samples
        if slot in sample
    }
    return resolver, tuple(sorted(frames))  # type: ignore[arg-type]


def heard_on_a_device(text: str, resolver: Resolver, frames: tuple[tuple[str, str, str], ...]) -> list[str]:
    """What the safety decision reads of a sentence that reaches a free-text intent: the {query} Alexa fills,
    with the words that intent stands for put back (Resolver.free_text), for every carrier that fits it."""
    spoken = " ".join(text.lower().replace("\u2019", "'").split())
    heard = []
    for intent, opening, ending in frames:
        if (opening and not spoken.startswith(opening + " ")) or (ending and not spoken.endswith(" " + ending)):
            continue
        query = spoken[len(opening) : len(spoken) - len(ending)].strip()
        if query:
            heard.append(resolver.free_text(intent, query))
    return heard


EN_RESOLVER, EN_FRAMES = free_text_frames("en-US")


@pytest.mark.parametrize("case", CASES, ids=[case["text"] for case in CASES])
def test_lexicon_hears_each_case_through_the_free_text_stage(case: dict[str, Any]) -> None:
    """A device sends only {query}: a safety case must still be caught, ordinary talk must still raise no alarm."""
    for heard in heard_on_a_device(case["text"], EN_RESOLVER, EN_FRAMES):
        route = LEXICON.route([heard])
        assert (route is None) == (expected(case) is None), (heard, route)


def test_the_free_text_stage_is_read_from_the_model() -> None:
    # "um" opens FreeTextIntent and carries nothing: it is dropped; "my" has an intent of its own and is put back
    assert heard_on_a_device("um my baby won't wake up to eat", EN_RESOLVER, EN_FRAMES) == [
        "my baby won't wake up to eat"
    ]
    # "she's" is in the family of "he's" (words interchangeable for every answer): its first word is put back
    assert heard_on_a_device("she's floppy", EN_RESOLVER, EN_FRAMES) == ["he's floppy"]
    assert heard_on_a_device("floppy", EN_RESOLVER, EN_FRAMES) == []  # no carrier: not a free-text request


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


def test_a_sign_of_the_body_said_as_absent_does_not_look_sensitive() -> None:
    assert not LEXICON.looks_sensitive("really sore nipples but not bleeding")
    assert not LEXICON.looks_sensitive("no fever and no lump, just tender")
    assert LEXICON.looks_sensitive("no fever but a hard lump")  # the lump is not said as absent
    assert LEXICON.looks_sensitive("i do not feel alive")  # crisis words hold back a weak match even negated
    assert not LEXICON.looks_sensitive("her fever broke last night and she is fine now")  # said to be over
    assert LEXICON.looks_sensitive("her fever is back tonight")


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("I'm dying for a cup of tea", "i am longing for a cup of tea"),
        ("my nipples are killing me", "my nipples are hurting me"),
        ("the baby's in the room and it's killing my let down", "the baby in the room and it is stopping my letdown"),
        ("kill the sound", "turn off the sound"),
        ("I'm scared to death of the pump", "i am really scared of the pump"),
        ("she's dead asleep", "she is really asleep"),
        ("I could scream, the pump is so slow", "i am so frustrated the pump is so slow"),
        ("I'm about to give up on this pump", "i am about to finish this pump"),
        ("I'm dying waiting for the milk", "i am tired waiting for the milk"),
    ],
)
def test_idioms_mean_their_plain_words(text: str, plain: str) -> None:
    assert LEXICON.plain_meaning(text) == plain


def test_an_idiom_is_not_sensitive_but_the_word_said_plainly_is() -> None:
    assert LEXICON.looks_sensitive("dying here")
    assert not LEXICON.looks_sensitive("I'm dying for a cup of tea")
    assert LEXICON.route(["I'm dying for a nap, honestly I want to die"]) == "crisis"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"idioms": [{"pattern": "x"}]}, "means"),
        ({"idioms": [{"pattern": "(x)", "means": "\\2"}]}, "group"),
        ({"idioms": [{"pattern": "(", "means": ""}]}, "bad regular expression"),
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
            "routes": {"physical": [{"pattern": r"\b{sign_or_lump}\b", "requires": [r"\b{breast}\b"], "source": "s"}]},
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


SPANISH_LEXICON = SafetyLexicon.from_content(ContentLibrary.load().locale("es-US"))
ES_RESOLVER, ES_FRAMES = free_text_frames("es-US")


@pytest.mark.parametrize("case", SPANISH_CASES, ids=[case["text"] for case in SPANISH_CASES])
def test_spanish_lexicon_routes_each_case(case: dict[str, Any]) -> None:
    assert SPANISH_LEXICON.route([case["text"]]) == expected(case)


@pytest.mark.parametrize("case", SPANISH_CASES, ids=[case["text"] for case in SPANISH_CASES])
def test_spanish_lexicon_hears_each_case_through_the_free_text_stage(case: dict[str, Any]) -> None:
    for heard in heard_on_a_device(case["text"], ES_RESOLVER, ES_FRAMES):
        route = SPANISH_LEXICON.route([heard])
        assert (route is None) == (expected(case) is None), (heard, route)


def test_english_locales_inherit_the_us_lexicon_and_spanish_has_its_own() -> None:
    library = ContentLibrary.load()
    spanish = SafetyLexicon.from_content(library.locale("es-US"))
    assert {entry.route for entry in spanish.entries} == set(ROUTE_PRECEDENCE)
    assert all(entry.source for entry in spanish.entries) and spanish.watch
    assert spanish.route(["I want to die"]) is None  # English words are not Spanish ones
    for locale in ("en-GB", "en-CA", "en-AU", "en-IN", "en-NZ"):
        assert SafetyLexicon.from_content(library.locale(locale)).route(["I want to die"]) == "crisis", locale
