"""The labelled utterance sets of bench/bench_nlu.py, and its two resolver drivers end to end.

The sets are validated, not scored: accuracy targets are the lead's to set. The held-out evaluation set must
stay held out: no utterance of either set may be word for word a sample of the generated model.
"""

from __future__ import annotations

import fnmatch
import re
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench import bench_nlu
from bench.bench_nlu import ACCEPTABLE_ANSWERS, CONTRACT_INTENTS, SAFETY_INTENTS, SAFETY_ROUTES, Case
from skill.interaction_model import LAUNCH, InteractionModel
from skill.text import spoken_form

MODEL = InteractionModel.load(bench_nlu.MODEL_PATH)
SETS = {name: bench_nlu.load_set(path) for name, path in bench_nlu.SETS.items()}
EVAL, DEV, DEV2, DEV3, DEV4 = (SETS[name] for name in ("eval", "dev", "dev2", "dev3", "dev4"))
DEV5 = SETS["dev5"]
KNOWN_INTENTS = set(MODEL.intents) | CONTRACT_INTENTS | {LAUNCH}
# The intents the skill answers with its own content and bench_nlu knows how to score (not Alexa's built-ins, not
# the safety routes, not the free-text catch-alls, whose answer is whatever their text resolves to).
CONTENT_INTENTS = sorted(
    name
    for name in ACCEPTABLE_ANSWERS
    if name in MODEL.intents and not name.startswith("AMAZON.") and name not in SAFETY_INTENTS
)


def in_own_words(cases: list[Case], route: str = "crisis") -> int:
    """How many of a route's utterances name it outright ("suicide", "suicidal", "kill myself")."""
    return sum("suicid" in case.text or "kill myself" in case.text for case in cases if case.route == route)


def fixed_phrases(model: InteractionModel) -> tuple[set[str], list[re.Pattern[str]]]:
    """The model's samples as the words they match: slot-free samples as text; samples whose slots are all of
    custom types as patterns over those types' values and synonyms. Samples with a built-in slot type (a
    duration, a SearchQuery) match open-ended text and are not a fixed phrase to compare with."""
    literal: set[str] = set()
    patterns: list[re.Pattern[str]] = []
    for intent in model.intents.values():
        for sample in intent.samples:
            parts = re.split(r"(\{\w+\})", sample)
            slots = [part[1:-1] for part in parts if part.startswith("{")]
            if not slots:
                literal.add(spoken_form(sample))
                continue
            types = [intent.slots.get(slot, "") for slot in slots]
            if any(slot_type not in model.types for slot_type in types):
                continue
            pieces = []
            for part in parts:
                if part.startswith("{"):
                    values = model.types[intent.slots[part[1:-1]]]
                    words = sorted({spoken_form(p) for value in values for p in value.phrases()}, key=len, reverse=True)
                    pieces.append("(?:" + "|".join(re.escape(w) for w in words if w) + ")")
                elif spoken_form(part):
                    pieces.append(re.escape(spoken_form(part)))
            patterns.append(re.compile(" ".join(pieces)))
    return literal, patterns


@pytest.mark.parametrize("name", sorted(SETS))
def test_sets_are_large_enough_and_say_what_they_are(name: str) -> None:
    path = bench_nlu.SETS[name]
    header = path.read_text(encoding="utf-8")
    if name == "eval":
        assert len(EVAL) >= 240
        assert "HELD-OUT" in header and "held_out: true" in header
    else:
        least = {"dev": 80, "dev2": 230, "dev3": 150, "dev4": 150, "dev5": 180, "dev6": 120, "dev7": 80, "dev8": 90}
        least |= {"dev9": 110, "dev10": 120, "dev11": 100, "dev12": 100, "dev13": 100, "dev14": 90}
        least |= {"dev15": 120, "dev16": 115, "dev17": 110, "dev18": 115, "dev19": 105, "dev20": 115}
        least |= {"dev21": 115, "dev22": 115, "dev23": 115, "dev24": 115, "dev25": 120}
        assert len(SETS[name]) >= least[name]
        assert "MAY read" in header and "held_out: false" in header


@pytest.mark.parametrize("name", sorted(SETS))
def test_labels_are_known_intents_with_defined_answers(name: str) -> None:
    for case in SETS[name]:
        assert case.intent in KNOWN_INTENTS, case
        assert case.intent in ACCEPTABLE_ANSWERS, case


@pytest.mark.parametrize("name", sorted(SETS))
def test_routes_follow_the_contract(name: str) -> None:
    for case in SETS[name]:
        if case.intent in SAFETY_INTENTS:
            assert case.route == SAFETY_INTENTS[case.intent], case
            assert not case.near_miss, case
        else:
            assert case.route is None, case


@pytest.mark.parametrize("name", sorted(SETS))
def test_narrowed_answers_are_answers_of_their_intent(name: str) -> None:
    for case in SETS[name]:
        for answer in case.answers:
            assert any(fnmatch.fnmatchcase(answer, pattern) for pattern in ACCEPTABLE_ANSWERS[case.intent]), case


def test_no_utterance_appears_twice_in_or_across_the_sets() -> None:
    counts = Counter(spoken_form(case.text) for case in (case for cases in SETS.values() for case in cases))
    assert [text for text, count in counts.items() if count > 1] == []


@pytest.mark.parametrize("name", sorted(SETS))
def test_no_utterance_is_a_sample_of_the_generated_model(name: str) -> None:
    literal, patterns = fixed_phrases(MODEL)
    copies = []
    for case in SETS[name]:
        spoken = spoken_form(case.text)
        if spoken in literal or any(pattern.fullmatch(spoken) for pattern in patterns):
            copies.append(case.text)
    assert copies == [], f"word for word a sample of {bench_nlu.MODEL_PATH.name}: replace with fresh wording"


def test_the_sample_comparison_sees_samples_and_slot_values() -> None:
    literal, patterns = fixed_phrases(MODEL)
    some_sample = next(s for i in MODEL.intents.values() for s in i.samples if "{" not in s)
    assert spoken_form(some_sample.upper() + "!") in literal
    topic = next(i for i in MODEL.intents.values() if "TipTopic" in i.slots.values())
    template = next(s for s in topic.samples if "{" in s)
    value = MODEL.types["TipTopic"][0].phrases()[-1]
    filled = re.sub(r"\{\w+\}", value, template)
    assert any(pattern.fullmatch(spoken_form(filled)) for pattern in patterns)


def test_the_evaluation_set_covers_the_skill() -> None:
    per_intent = Counter(case.intent for case in EVAL if not case.near_miss)
    assert {intent: per_intent[intent] for intent in CONTENT_INTENTS if per_intent[intent] < 4} == {}
    for built_in in ("AMAZON.HelpIntent", "AMAZON.StopIntent", "AMAZON.PauseIntent", "AMAZON.ResumeIntent"):
        assert per_intent[built_in] >= 3, built_in
    assert per_intent["AMAZON.RepeatIntent"] >= 3
    routes = Counter(case.route for case in EVAL if case.is_safety)
    assert sum(routes.values()) >= 40
    assert set(routes) == set(SAFETY_ROUTES) and min(routes.values()) >= 5
    assert sum(case.near_miss for case in EVAL) >= 25
    assert any("stand for" in case.text for case in EVAL if case.intent == "DmerIntent")


def test_the_second_development_set_covers_the_skill_as_parents_ask() -> None:
    """dev_set_2.yaml's quotas: every intent of dev_set.yaml, roughly as often as parents
    would say it, and safety in the indirect words people use, with near-misses that must not raise it."""
    per_intent = Counter(case.intent for case in DEV2)
    assert {case.intent for case in DEV} - set(per_intent) == set()
    assert per_intent["LetDownIntent"] >= 25
    assert per_intent["DmerIntent"] + per_intent["DmerCopingIntent"] >= 15
    tips = [name for name in ACCEPTABLE_ANSWERS if name.endswith("TipIntent")]
    assert {tip: per_intent[tip] for tip in tips if per_intent[tip] < 5} == {}
    built_ins = ("Stop", "Cancel", "Pause", "Resume", "Repeat", "Help")
    assert {
        name: per_intent[f"AMAZON.{name}Intent"] for name in built_ins if per_intent[f"AMAZON.{name}Intent"] < 4
    } == {}
    for intent, least in (
        ("PlayTrackIntent", 6),
        ("BreathingIntent", 6),
        ("WhisperOnIntent", 3),
        ("WhisperOffIntent", 3),
    ):
        assert per_intent[intent] >= least, intent
    routes = Counter(case.route for case in DEV2 if case.is_safety)
    least_per_route = {"crisis": 20, "harm_fear": 10, "baby_health": 15, "physical": 15, "low_mood": 10}
    assert {route: routes[route] for route, least in least_per_route.items() if routes[route] < least} == {}
    assert sum(routes.values()) >= 70
    assert sum(case.near_miss for case in DEV2) >= 25
    crisis = [case.text for case in DEV2 if case.route == "crisis"]
    assert sum("suicid" in text for text in crisis) * 2 < len(crisis)  # mostly said indirectly


def test_the_third_development_set_aims_at_the_weak_spots() -> None:
    """dev_set_3.yaml's quotas: the intents understood worst, and indirect safety."""
    per_intent = Counter(case.intent for case in DEV3 if not case.near_miss)
    least_per_intent = {
        "AMAZON.ResumeIntent": 12,
        "AMAZON.StopIntent": 10,
        "TellMeMoreIntent": 10,
        "AMAZON.RepeatIntent": 6,
        "AMAZON.PauseIntent": 6,
        "LetDownBlockersIntent": 12,
        "PainTipIntent": 10,
        "AboutLetDownIntent": 10,
        "ComfortTipIntent": 10,
        "LetDownFeelIntent": 12,
        "LetDownSignsIntent": 10,
        "PumpingAwayTipIntent": 8,
    }
    assert {
        intent: per_intent[intent] for intent, least in least_per_intent.items() if per_intent[intent] < least
    } == {}
    routes = Counter(case.route for case in DEV3 if case.is_safety)
    assert routes["crisis"] >= 15 and routes["low_mood"] >= 10
    crisis = [case.text for case in DEV3 if case.route == "crisis"]
    assert not any("suicid" in text or "kill myself" in text for text in crisis)  # all said indirectly


def test_the_fourth_development_set_was_written_for_the_remaining_weak_spots() -> None:
    """dev_set_4.yaml's quotas (written blind to the model, measured before any tuning): the intents still
    understood worst, mid-audio resume and stop, indirect safety, and idioms that must not raise it."""
    per_intent = Counter(case.intent for case in DEV4 if not case.near_miss)
    least_per_intent = {
        "AMAZON.ResumeIntent": 12,
        "AMAZON.StopIntent": 12,
        "LetDownBlockersIntent": 12,
        "PainTipIntent": 12,
        "AboutLetDownIntent": 12,
        "ComfortTipIntent": 12,
        "LetDownFeelIntent": 12,
        "LetDownSignsIntent": 12,
    }
    assert {
        intent: per_intent[intent] for intent, least in least_per_intent.items() if per_intent[intent] < least
    } == {}
    routes = Counter(case.route for case in DEV4 if case.is_safety)
    assert routes["crisis"] >= 15 and routes["low_mood"] >= 10 and set(routes) == set(SAFETY_ROUTES)
    assert sum(case.near_miss for case in DEV4) >= 10
    assert in_own_words(DEV4) == 0


def test_the_fifth_development_set_covers_every_intent_and_route_blind() -> None:
    """dev_set_5.yaml's quotas (written blind to the model, measured before any tuning): every content intent,
    the built-ins, every safety route with crisis in indirect words, and near-misses."""
    per_intent = Counter(case.intent for case in DEV5)
    # FeedingModeIntent answers the coach's question; the three whisper-off utterances were all samples
    unasked = {"FeedingModeIntent", "WhisperOffIntent"}
    assert [intent for intent in CONTENT_INTENTS if intent not in unasked and not per_intent[intent]] == []
    assert per_intent["LetDownIntent"] >= 20 and per_intent["DmerIntent"] >= 12
    routes = Counter(case.route for case in DEV5 if case.is_safety)
    assert routes["crisis"] >= 15 and set(routes) == set(SAFETY_ROUTES) and min(routes.values()) >= 7
    assert sum(case.near_miss for case in DEV5) >= 20
    assert in_own_words(DEV5) <= 2


@dataclass(frozen=True)
class SafetyQuota:
    """What a blind safety set promised to hold (each was written blind and measured before any tuning)."""

    aims: str
    least_per_route: Mapping[str, int]
    near_misses: int
    every_route: int | None = None  # when set, every route appears at least this often
    in_own_words: int | None = None  # at most this many crisis utterances say "suicide" or "kill myself"


SAFETY_QUOTAS: Mapping[str, SafetyQuota] = {
    "dev6": SafetyQuota("every route, crisis almost never in its own words", {"crisis": 35}, 25, 12, 2),
    "dev7": SafetyQuota(
        "crisis and harm fear in the most indirect words (plans, means, goodbyes, affairs in order, euphemisms)",
        {"crisis": 45, "harm_fear": 12},
        18,
        in_own_words=1,
    ),
    "dev8": SafetyQuota("every route in the short fragments speech recognition hands over", {"crisis": 30}, 12, 10, 0),
    "dev9": SafetyQuota(
        "crisis through wishes, means, rehearsal, searches, arrangements, self-harm and religious euphemisms",
        {"crisis": 60, "harm_fear": 18},
        30,
        in_own_words=3,
    ),
    "dev10": SafetyQuota(
        "every route buried in longer accounts, a partner or grandparent speaking", {"crisis": 25}, 20, 10, 2
    ),
    "dev11": SafetyQuota(
        "crisis and harm fear asked as questions, hypotheticals and fragments, by fathers and partners too",
        {"crisis": 55, "harm_fear": 15},
        30,
        in_own_words=2,
    ),
    "dev12": SafetyQuota(
        "every route hedged or mixed into an ordinary request; negated cases as near-misses", {"crisis": 30}, 25, 10, 3
    ),
    "dev13": SafetyQuota("every route in dialects, slang and speech-recognition mishearings", {"crisis": 40}, 15, 8),
    "dev14": SafetyQuota(
        "crisis and harm fear said flatly and briefly; the line between low mood and crisis",
        {"crisis": 40, "harm_fear": 10},
        12,
        every_route=1,
        in_own_words=2,
    ),
    "dev15": SafetyQuota(
        "crisis and harm fear tangled with the feed and D-MER, and in metaphors; ordinary D-MER as near-misses",
        {"crisis": 50, "harm_fear": 14},
        24,
        every_route=8,
        in_own_words=2,
    ),
    "dev16": SafetyQuota(
        "crisis said to the assistant as commands and searches, tied to a time, and in world English",
        {"crisis": 50, "harm_fear": 12},
        22,
        every_route=8,
        in_own_words=2,
    ),
    "dev17": SafetyQuota(
        "crisis in plain everyday words at a night feed, passive wishes, religious wording; tired talk as near-misses",
        {"crisis": 45, "harm_fear": 12},
        24,
        every_route=7,
        in_own_words=2,
    ),
    "dev18": SafetyQuota(
        "every route inside a long run-on 3 a.m. ramble, with mishearings; ordinary rambles as near-misses",
        {"crisis": 50, "harm_fear": 12},
        26,
        every_route=9,
        in_own_words=2,
    ),
    "dev19": SafetyQuota(
        "the commonest indirect signs of suicidal thinking in many grammatical shapes; the same words as near-misses",
        {"crisis": 45, "harm_fear": 12},
        24,
        every_route=7,
        in_own_words=2,
    ),
    "dev20": SafetyQuota(
        "every route hidden in questions asked as if for information; ordinary questions as near-misses",
        {"crisis": 50, "harm_fear": 12},
        25,
        every_route=9,
        in_own_words=2,
    ),
    "dev21": SafetyQuota(
        "crisis and harm fear in euphemism and slang, short fragments; the same euphemisms as near-misses",
        {"crisis": 50, "harm_fear": 12},
        26,
        every_route=6,
        in_own_words=2,
    ),
    "dev22": SafetyQuota(
        "crisis tied to the baby and the feeding (the freezer stash for afterwards); ordinary planning as near-misses",
        {"crisis": 50, "harm_fear": 12},
        25,
        every_route=8,
        in_own_words=2,
    ),
    "dev23": SafetyQuota(
        "every route as an upset person starts a sentence, half of crisis as a confession; ordinary confessions",
        {"crisis": 50, "harm_fear": 12},
        26,
        every_route=9,
        in_own_words=2,
    ),
    "dev24": SafetyQuota(
        "crisis and harm fear reported by a partner, parent or friend; their ordinary questions as near-misses",
        {"crisis": 50, "harm_fear": 12},
        26,
        every_route=9,
        in_own_words=2,
    ),
    "dev25": SafetyQuota(
        "crisis through the means (pills and their bottles, blades, rope, heights, water, trains); their ordinary uses",
        {"crisis": 55, "harm_fear": 12},
        30,
        every_route=9,
        in_own_words=2,
    ),
}
# dev to dev5 cover content intents too and have quota tests of their own above
OWN_QUOTA_TESTS = {"dev", "dev2", "dev3", "dev4", "dev5"}


@pytest.mark.parametrize("name", sorted(SAFETY_QUOTAS))
def test_the_blind_safety_sets_hold_what_they_promise(name: str) -> None:
    quota, cases = SAFETY_QUOTAS[name], SETS[name]
    routes = Counter(case.route for case in cases if case.is_safety)
    assert {route: routes[route] for route, least in quota.least_per_route.items() if routes[route] < least} == {}
    if quota.every_route is not None:
        assert set(routes) == set(SAFETY_ROUTES) and min(routes.values()) >= quota.every_route
    assert sum(case.near_miss for case in cases) >= quota.near_misses
    if quota.in_own_words is not None:
        assert in_own_words(cases) <= quota.in_own_words


def test_every_development_set_has_its_quotas() -> None:
    assert set(SETS) - {"eval"} - OWN_QUOTA_TESTS - set(SAFETY_QUOTAS) == set()


# ----- the drivers, end to end --------------------------------------------------------------------------


@pytest.fixture
def bench_env() -> Iterator[dict[str, str]]:
    with tempfile.TemporaryDirectory(prefix="bench-nlu-test-") as scratch:
        yield bench_nlu.bench_environment(Path(scratch))


def first_sample(intent: str) -> str:
    return next(sample for sample in MODEL.intents[intent].samples if "{" not in sample)


HARNESS_CASES = (
    Case(text=first_sample("BreathingIntent"), intent="BreathingIntent"),  # an AudioPlayer.Play answer
    Case(text="zebra crossing quantum spreadsheet", intent="DmerIntent"),  # no sample matches: the fallback
    Case(text="open let down helper", intent=LAUNCH),  # a launch phrase, not an intent
)


def test_virtual_alexa_drives_the_running_service(bench_env: dict[str, str]) -> None:
    """Real node, real virtual-alexa from tools/nlu, real `letdown serve` over loopback HTTP."""
    outcomes = bench_nlu.run_virtual_alexa(HARNESS_CASES, bench_env)
    breathing, nonsense, launch = outcomes
    assert breathing.error is None and breathing.resolved == "BreathingIntent"
    assert "directive:AudioPlayer.Play" in breathing.keys and breathing.correct, breathing
    assert nonsense.resolved == "AMAZON.FallbackIntent" and nonsense.fallback and not nonsense.correct
    assert launch.resolved == LAUNCH and "message:launch.first" in launch.keys and launch.correct


def test_the_say_path_scores_from_the_answer(bench_env: dict[str, str]) -> None:
    Path(bench_env["LETDOWN_DATABASE_URL"].removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    dmer = Case(text=first_sample("DmerIntent"), intent="DmerIntent")
    wrong_label = Case(text=first_sample("DmerIntent"), intent="WarmthTipIntent")
    outcomes = bench_nlu.run_say([dmer, wrong_label, HARNESS_CASES[1]], bench_env)
    assert [outcome.correct for outcome in outcomes] == [True, False, False]
    assert "message:dmer.about" in outcomes[0].keys
    assert outcomes[2].fallback
    scores = bench_nlu.score(outcomes)
    assert scores.overall.hits == 1 and scores.fallback.hits == 1 and scores.false_alarms.hits == 0


def test_a_safety_answer_to_an_ordinary_question_is_a_false_alarm() -> None:
    case = Case(text="it tingles", intent="LetDownFeelIntent", near_miss=True)
    alarm = bench_nlu.Outcome(case, "PhysicalRedFlagIntent", frozenset({"message:safety.physical"}))
    right = bench_nlu.Outcome(case, "LetDownFeelIntent", frozenset({"message:about.feel"}))
    scores = bench_nlu.score([alarm, right])
    assert (scores.false_alarms.hits, scores.near_miss_false_alarms.hits, scores.overall.hits) == (1, 1, 1)
    crisis = Case(text="x", intent="CrisisIntent", route="crisis")
    wrong_route = bench_nlu.Outcome(crisis, "LowMoodIntent", frozenset({"message:safety.low_mood"}))
    scores = bench_nlu.score([wrong_route])
    assert (scores.safety_recall_total.hits, scores.safety_caught_total.hits) == (0, 1)
