"""The understanding resolver: normalisation, the calibrated fuzzy stage, safety first, loaded once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from skill.app import create_app, create_serving_app
from skill.config import Config
from skill.conversation.safety import ROUTE_INTENTS
from skill.interaction_model import FALLBACK_INTENT, InteractionModel
from skill.text import spoken_form
from skill.understanding import resolver as resolver_module
from skill.understanding.catalog import ResolverCatalog, phrase_lists
from skill.understanding.normalise import Normaliser, normalise
from skill.understanding.resolver import Resolver
from skill.web.app import service_of

DEV = yaml.safe_load((Path(__file__).parent / "dev_utterances.yaml").read_text(encoding="utf-8"))["utterances"]
# The development set's floor: what the resolver reached when the threshold was calibrated, less a margin.
DEV_ACCURACY_FLOOR = 0.80


def expected_intent(case: dict[str, Any]) -> str:
    return ROUTE_INTENTS.get(case["expect"], case["expect"])


@pytest.fixture(scope="module")
def resolver() -> Resolver:
    config = Config.from_env({})
    from skill.interaction_model import ModelCatalog
    from skill.speech.content import ContentLibrary

    catalog = ResolverCatalog.load(config.model_dir, ModelCatalog.load(config.model_dir), ContentLibrary.load())
    found = catalog.for_locale("en-US")
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("Letdown", "letdown"),
        ("my let-down", "my letdown"),
        ("my milk lets down", "my milk letdown"),
        ("I can't", "i can not"),
        ("I'll hurt", "i will hurt"),
        ("i cant", "i can not"),
        ("I'm", "i am"),
        ("What's D-MER", "what is dmer"),
        ("dee mer", "dmer"),
        ("no wet nappies", "no wet diaper"),
        ("ah'm feart tae be left alane wi the bairn", "i am scared to be left alone with the baby"),
        ("im scared ill lose it", "i am scared i will lose it"),  # "I'll" without its apostrophe, before a verb
        ("she is ill today", "she is ill today"),
        ("ah dae somethin", "i do something"),
        ("i cannae dae this nae mair", "i can not do this any more"),
        ("thinkin bout killmyself", "thinking bout kill myself"),
        ("finna end it", "going to end it"),
        ("no more pumping", "no more pumping"),
        ("ah okay", "ah okay"),
        ("weaning", "weaning"),
    ],
)
def test_normalise(text: str, normalised: str) -> None:
    assert normalise(text) == normalised


def test_fillers_synonyms_and_stems_make_one_key() -> None:
    normaliser = Normaliser([("breast", "boob", "boobs")])
    assert normaliser.key("um so like my boobs are leaking please Alexa") == normaliser.key("my breast is leaking")
    assert normaliser.key("massaging") == normaliser.key("massage")


def test_grammar_phrase_lists_feed_the_synonyms() -> None:
    lists = phrase_lists(Config.from_env({}).model_dir, "en-US")
    assert any("boob" in group for group in lists)
    assert phrase_lists(Path("/nonexistent"), "en-US") == ()


def test_development_set_accuracy(resolver: Resolver) -> None:
    wrong = [
        f"{case['text']!r}: {resolver.understand(case['text']).intent}, expected {expected_intent(case)}"
        for case in DEV
        if resolver.understand(case["text"]).intent != expected_intent(case)
    ]
    accuracy = 1 - len(wrong) / len(DEV)
    assert accuracy >= DEV_ACCURACY_FLOOR, "\n".join(wrong)


@pytest.mark.parametrize("case", [c for c in DEV if c["expect"] in ROUTE_INTENTS], ids=lambda c: c["text"])
def test_every_safety_utterance_is_routed(resolver: Resolver, case: dict[str, Any]) -> None:
    understood = resolver.understand(case["text"])
    assert understood.route == case["expect"]
    assert understood.intent == ROUTE_INTENTS[case["expect"]]


@pytest.mark.parametrize(
    "text",
    [
        "I keep thinking about going to sleep and never waking up",
        "I want to sleep and not wake up",
    ],
)
def test_indirect_crisis_never_reaches_playback(resolver: Resolver, text: str) -> None:
    assert resolver.resolve(text).route == "crisis"
    assert resolver.understand(text).intent == "CrisisIntent"


def test_weak_match_of_a_sensitive_text_goes_to_the_fallback(resolver: Resolver) -> None:
    model = InteractionModel.from_json(
        {"interactionModel": {"languageModel": {"invocationName": "let down helper", "intents": [
            {"name": "AMAZON.ResumeIntent", "samples": ["keep going with the track"]},
            {"name": "AMAZON.FallbackIntent", "samples": []},
        ]}}}
    )  # fmt: skip
    tiny = Resolver(model, resolver.content)
    ordinary = tiny.understand("keep going with that track please")
    assert ordinary.intent == "AMAZON.ResumeIntent"
    assert ordinary.score >= resolver_module.ACCEPT_SCORE
    # Safety-looking ("sick", "unwell"), no safety entry, and a weaker match.
    sensitive = "I keep going back to the track when I feel sick and unwell"
    assert tiny.safety.route([sensitive]) is None and tiny.safety.looks_sensitive(sensitive)
    weak = tiny.understand(sensitive)
    assert weak.intent == FALLBACK_INTENT, weak
    assert weak.score >= resolver_module.ACCEPT_SCORE  # good enough for an ordinary text: held back by the guard


def test_a_typed_clause_answers_when_the_whole_sentence_fits_nothing(resolver: Resolver) -> None:
    aside = "my sister came over with a lasagna and the dog barked"
    assert resolver.understand(f"{aside} carry on").intent == FALLBACK_INTENT
    assert resolver.understand(f"{aside}, carry on").intent == "AMAZON.ResumeIntent"
    assert resolver.understand(f"{aside} - carry on").intent == "AMAZON.ResumeIntent"


def test_an_idiom_does_not_pull_a_request_towards_safety(resolver: Resolver) -> None:
    assert resolver.understand("honestly this pump is going to be the death of me, help my milk let down").route is None
    killing = resolver.understand("my nipples are killing me")
    assert killing.route is None
    assert killing.intent == "PainTipIntent" or killing.slots["topic"]["id"] == "pain", killing  # the pain tip


def test_a_sign_said_as_absent_lets_the_ordinary_answer_through(resolver: Resolver) -> None:
    text = "my nipples are so tender after she latches, not bleeding though, what helps"
    assert resolver.safety.route([text]) is None
    assert resolver.understand(text).intent == "PainTipIntent"
    assert resolver.understand("my nipples are so tender after she latches and bleeding, what helps").route


def test_asking_for_the_sea_gets_the_soft_waves_track(resolver: Resolver) -> None:
    for text in ("can you play the sea sounds", "put on something soothing"):
        understood = resolver.understand(text)
        assert understood.intent == "PlayTrackIntent" and understood.slots["track"]["id"] == "feed-background", text


def test_the_feeling_described_with_an_ask_gets_the_coping_answer(resolver: Resolver) -> None:
    assert (
        resolver.understand("what helps with the hollow feeling when my milk comes down").intent == "DmerCopingIntent"
    )
    assert resolver.understand("i get a hollow feeling when my milk comes down").intent == "DmerIntent"


def test_words_the_lexicon_cleared_in_context_do_not_reach_safety_by_similarity(resolver: Resolver) -> None:
    text = "honestly so hopeless with the pump, is that normal"
    assert resolver.safety.route([text]) is None and resolver.safety.cleared(text)
    assert resolver.understand(text).route is None
    assert not resolver.safety.cleared("I feel hopeless")  # routed, not cleared
    assert not resolver.safety.cleared("my milk is slow")  # no entry's words at all


def test_out_of_scope_requests_fall_back(resolver: Resolver) -> None:
    for text in ("what's the weather tomorrow", "how tall is the eiffel tower", "set a timer for my pasta"):
        assert resolver.understand(text).intent == FALLBACK_INTENT, text


def test_typos_and_extra_words_still_match(resolver: Resolver) -> None:
    assert resolver.understand("um so how do I masage my brests").intent == "MassageTipIntent"
    assert resolver.understand("alexa please my letdown is just so slow tonight").intent == "LetDownIntent"


def test_invocation_is_stripped_keeping_the_spelling(resolver: Resolver) -> None:
    assert resolver.resolve("open let down helper").intent == "LaunchRequest"
    assert resolver.resolve("Alexa, ask Let-Down Helper: I'll hurt my baby").route == "harm_fear"


def test_the_app_builds_the_resolver_once(make_app) -> None:
    from skill.tools.simulator import load_resolver

    app = make_app()
    deps = app.extensions["letdown"].deps
    # en-GB has its own model now; a locale without one (en-NZ) shares en-US's, and none is rebuilt per call.
    assert load_resolver(deps) is deps.resolvers.for_locale("en-US") is deps.resolvers.for_locale("en-NZ")
    assert deps.resolvers.for_locale("en-GB") is deps.resolvers.for_locale("en-GB") is not None


@pytest.mark.parametrize(
    ("intent", "query", "said"),
    [
        ("FreeTextWhyIntent", "does my milk let down", "why does my milk let down"),
        ("FreeTextBabyIntent", " not feeding ", "baby not feeding"),  # a family: "baby", "baby's", "my son"…
        ("FreeTextScaredIntent", "I might hurt him", "afraid I might hurt him"),  # its first word in sorted order
        ("FreeTextEndAtAllIntent", "nothing's dripping", "nothing's dripping at all"),
        ("FreeTextIntent", "my milk won't come", "my milk won't come"),  # "um {query}", "so {query}"…: nothing shared
        ("LetDownIntent", "my milk", "my milk"),
        (None, "my milk", "my milk"),
    ],
)
def test_free_text_puts_back_the_words_a_catch_alls_samples_share(
    resolver: Resolver, intent: str | None, query: str, said: str
) -> None:
    assert resolver.free_text(intent, query) == said


def test_the_words_put_back_change_the_answer(resolver: Resolver) -> None:
    """The reason for the siblings: "why" asks what the let-down is; without it the words ask something else."""
    assert resolver.understand(resolver.free_text("FreeTextWhyIntent", "does my milk let down")).intent == (
        "AboutLetDownIntent"
    )
    assert resolver.understand("does my milk let down").intent != "AboutLetDownIntent"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("okay stop", "AMAZON.StopIntent"),
        ("wait pause", "AMAZON.PauseIntent"),
        ("alright alexa stop it", "AMAZON.StopIntent"),
        ("okay", "AMAZON.YesIntent"),  # alone, an interjection is the answer itself
        ("open up the let down helper skill", "LaunchRequest"),
    ],
)
def test_opening_interjections_do_not_hide_the_request(resolver: Resolver, text: str, intent: str) -> None:
    assert resolver.resolve(text).intent == intent


def counting_catalog(locales: tuple[str, ...]) -> tuple[ResolverCatalog, list[str]]:
    built: list[str] = []
    model = InteractionModel.load(Config.from_env({}).model_dir / "en-US.json")

    def builder(locale: str):
        def build() -> Resolver:
            built.append(locale)
            return Resolver(model)

        return build

    return ResolverCatalog({locale: builder(locale) for locale in locales}), built


def test_the_catalog_builds_a_locales_resolver_once_and_only_when_asked() -> None:
    catalog, built = counting_catalog(("en-US", "en-GB", "es-US"))
    assert built == []
    with ThreadPoolExecutor(max_workers=4) as pool:  # first requests racing for the same locale
        first = list(pool.map(lambda _: catalog.for_locale("en-GB"), range(8)))
    assert built == ["en-GB"] and all(resolver is first[0] for resolver in first)
    assert catalog.for_locale("en-NZ") is catalog.for_locale("en-US")  # an unknown English locale: en-US
    assert catalog.for_locale("es-MX") is catalog.for_locale("es-US")
    assert sorted(built) == ["en-GB", "en-US", "es-US"]


def test_build_all_builds_every_locale_up_front() -> None:
    catalog, built = counting_catalog(("en-US", "es-US"))
    catalog.build_all()
    assert sorted(built) == ["en-US", "es-US"]
    catalog.for_locale("es-US")
    assert len(built) == 2


def test_the_served_app_has_every_resolver_before_its_first_request(tmp_path: Path) -> None:
    """`letdown serve` must not make a request wait for a resolver to be built; the tools build on demand."""
    env = {"LETDOWN_DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}"}
    served = service_of(create_serving_app(Config.from_env(env)))
    lazy = service_of(create_app(Config.from_env(env)))
    try:
        assert served.deps.resolvers.built_locales == tuple(sorted(served.deps.models.by_locale()))
        assert lazy.deps.resolvers.built_locales == ()
    finally:
        served.store.close()
        lazy.store.close()


def family_openings(resolver: Resolver) -> dict[str, str]:
    """Each word of a free-text sibling that is a family ("a fever", "temperature"…) → its intent."""
    openings: dict[str, str] = {}
    for intent in resolver.model.intents.values():
        words = {sample.split("{")[0].strip() for sample in intent.samples if sample.endswith("{query}")}
        if intent.name != "FreeTextIntent" and len(words) > 1:
            openings |= {spoken_form(word): intent.name for word in words}
    return openings


def test_a_familys_words_are_interchangeable_on_the_development_sets(resolver: Resolver) -> None:
    """A device puts back a family's first word, whichever was said: the answer must rarely change (measured:
    3 of 163 development utterances that open with a family word, none of them safety)."""
    openings = family_openings(resolver)
    assert len(openings) > 60
    changed, compared = [], 0
    for path in sorted((Path(__file__).parent.parent / "nlu").glob("dev_set*.yaml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for text in group["cases"]:
                spoken = spoken_form(text)
                word = next((w for w in sorted(openings, key=len, reverse=True) if spoken.startswith(w + " ")), None)
                if word is None:
                    continue
                compared += 1
                said = resolver.understand(spoken)
                heard = resolver.understand(resolver.free_text(openings[word], spoken[len(word) + 1 :]))
                if said.intent != heard.intent:
                    changed.append(text)
                    assert said.route == heard.route, text  # a safety answer never depends on which word
    assert compared > 100
    assert len(changed) <= compared * 0.02, changed
