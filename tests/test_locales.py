"""Every locale (en-US, en-GB, en-CA, en-AU, en-IN, es-US) answers every message in its own words and with
its own numbers; unknown countries get their language's content with the neutral emergency line.

Numbers are data (`helpline.*` entries): the scan below takes each locale's numbers from its own help
lines and looks for every other locale's numbers in every message the locale can speak."""

from __future__ import annotations

import json
import re

import pytest

from skill.config import DEFAULT_MODEL_DIR
from skill.interaction_model_grammar import load_grammar, read_grammar_document
from skill.speech.content import (
    HELPLINE_PREFIX,
    NEUTRAL,
    ContentError,
    ContentLibrary,
    LocaleContent,
    plain_text,
    ssml_problems,
)
from skill.tools.model_build import grammar_path
from skill.tools.model_check import MAX_MODEL_CHARACTERS, check_model, invocation_name_problems
from skill.tools.packaging import write_package
from skill.tools.resolver import Resolver
from tests.support.alexa import AlexaClient

LOCALES = ("en-US", "en-GB", "en-CA", "en-AU", "en-IN", "es-US")
FIRST_ANSWER_MAX_WORDS = {"en": 35, "es": 40}
LONG_FORM_MAX_WORDS = 90
LONG_TEXT_MESSAGES = {"letdown.routine_spoken"}
# The crisis line and emergency number each locale must speak on its crisis route (digits only).
CRISIS_NUMBERS = {
    "en-US": {"988", "911"},
    "en-GB": {"116123", "999"},
    "en-CA": {"988", "911"},
    "en-AU": {"131114", "000"},
    "en-IN": {"14416", "112"},
    "es-US": {"988", "911"},
}
SAFETY_INTENTS = {
    "CrisisIntent": "safety.crisis",
    "HarmFearIntent": "safety.harm_fear",
    "BabyHealthIntent": "safety.baby_health",
    "PhysicalRedFlagIntent": "safety.physical",
    "LowMoodIntent": "safety.low_mood",
}
# US words that must not survive into a locale that says it differently.
FOREIGN_WORDS = {
    "en-GB": ("diaper", "favorite", "cozy", "visualization"),
    "en-AU": ("diaper", "favorite", "cozy", "visualization"),
    "en-IN": ("favorite", "cozy", "visualization"),
    "en-CA": ("favorite",),
}
_NUMBER = re.compile(r"\d[\d -]*\d")


@pytest.fixture(scope="module")
def library() -> ContentLibrary:
    return ContentLibrary.load()


def numbers_in(ssml: str) -> set[str]:
    return {re.sub(r"\D", "", found) for found in _NUMBER.findall(plain_text(ssml))}


def all_variants(content: LocaleContent) -> list[tuple[str, str, str]]:
    return [
        (message_id, form, variant)
        for message_id in content.message_ids()
        for form, variants in content.message(message_id).forms.items()
        for variant in variants
    ]


def spoken_numbers(content: LocaleContent) -> set[str]:
    """Every number any message of the locale speaks."""
    return {number for _message_id, _form, variant in all_variants(content) for number in numbers_in(variant)}


def helpline_numbers(library: ContentLibrary, locale: str) -> set[str]:
    content = library.locale(locale)
    keys = [k for k in ("emergency", "crisis_call", "crisis_about", "mood_call", "mood_about", "urgent_advice",
                        "breastfeeding")]  # fmt: skip
    return {
        n
        for key in keys
        if content.has_data(HELPLINE_PREFIX + key)
        for n in numbers_in(content.data(HELPLINE_PREFIX + key))
    }


def test_every_locale_has_every_message_of_en_us(library: ContentLibrary) -> None:
    base = library.locale("en-US")
    assert set(library.locales()) == set(LOCALES)
    for locale in LOCALES:
        content = library.locale(locale)
        assert content.locale == locale
        assert set(content.message_ids()) == set(base.message_ids()), locale
        for message_id in base.message_ids():
            assert set(content.message(message_id).forms) == set(base.message(message_id).forms), (locale, message_id)
            assert content.message(message_id).source.strip()


@pytest.mark.parametrize("locale", [*LOCALES, "en-NZ", "es-MX"])
def test_every_variant_is_valid_ssml_and_short_first(library: ContentLibrary, locale: str) -> None:
    content = library.locale(locale)
    first_max = FIRST_ANSWER_MAX_WORDS[locale.split("-")[0]]
    for message_id, form, variant in all_variants(content):
        assert ssml_problems(variant) == [], (locale, message_id, form)
        words = len(plain_text(variant).split())
        if form == "long" or message_id in LONG_TEXT_MESSAGES:
            assert words <= LONG_FORM_MAX_WORDS, (locale, message_id, form, words)
        else:
            assert words <= first_max, (locale, message_id, form, words)


def test_no_locale_speaks_another_locales_numbers(library: ContentLibrary) -> None:
    numbers = {locale: helpline_numbers(library, locale) for locale in LOCALES}
    for locale in LOCALES:
        assert numbers[locale], locale
        spoken = spoken_numbers(library.locale(locale))
        # everything spoken comes from the locale's own help lines ...
        assert spoken <= numbers[locale], (locale, spoken - numbers[locale])
        # ... and no other country's number appears in any message (988 and 911 are shared by the US and Canada)
        for other in LOCALES:
            foreign = numbers[other] - numbers[locale]
            for message_id, form, variant in all_variants(library.locale(locale)):
                assert not numbers_in(variant) & foreign, (locale, other, message_id, form)


@pytest.mark.parametrize("locale", LOCALES)
def test_safety_routes_speak_the_locales_own_numbers(library: ContentLibrary, locale: str) -> None:
    content = library.locale(locale)
    crisis = numbers_in(content.pick("safety.crisis"))
    assert crisis == CRISIS_NUMBERS[locale]
    emergency = numbers_in(content.data("helpline.emergency"))
    for message_id in ("safety.harm_fear", "safety.baby_health", "safety.physical"):
        assert emergency <= numbers_in(content.pick(message_id)), (locale, message_id)
    assert numbers_in(content.pick("safety.low_mood")), locale  # a line the parent can call


@pytest.mark.parametrize(("requested", "words_of"), [("en-NZ", "en-US"), ("en-IE", "en-US"), ("es-MX", "es-US"),
                                                     ("es-ES", "es-US"), ("fr-FR", "en-US")])  # fmt: skip
def test_unknown_country_gets_its_languages_content_and_the_neutral_line(
    library: ContentLibrary, requested: str, words_of: str
) -> None:
    content = library.locale(requested)
    assert content.locale == words_of
    assert content.helplines == NEUTRAL
    base = library.locale(words_of)
    assert content.pick("tip.relax", "long") == base.pick("tip.relax", "long")  # same words ...
    for message_id, form, variant in all_variants(content):  # ... and not a single number
        assert numbers_in(variant) == set(), (requested, message_id, form)
    neutral_line = {"en": "your local emergency number", "es": "número local de emergencias"}[words_of[:2]]
    assert neutral_line in content.pick("safety.crisis")
    assert neutral_line in content.pick("safety.baby_health")


@pytest.mark.parametrize("locale", sorted(FOREIGN_WORDS))
def test_english_locales_use_their_own_words(library: ContentLibrary, locale: str) -> None:
    content = library.locale(locale)
    for message_id, form, variant in all_variants(content):
        for word in FOREIGN_WORDS[locale]:
            assert not re.search(rf"\b{word}\b", variant, re.I), (locale, message_id, form, word)
    assert "nappy" in content.pick("tip.baby", "long") if locale in ("en-GB", "en-AU") else True


def test_inherited_messages_share_en_us_wording_where_it_is_the_same(library: ContentLibrary) -> None:
    assert library.locale("en-GB").variants("about.timing") == library.locale("en-US").variants("about.timing")
    assert library.locale("en-GB").variants("tip.pain", "long") != library.locale("en-US").variants("tip.pain", "long")
    assert "chemist" in library.locale("en-GB").pick("tip.pain", "long")
    assert "health visitor" in library.locale("en-GB").pick("tip.pain")


def test_spanish_is_spanish(library: ContentLibrary) -> None:
    english = library.locale("en-US")
    spanish = library.locale("es-US")
    for message_id in spanish.message_ids():
        assert set(spanish.variants(message_id)).isdisjoint(english.variants(message_id)), message_id
    assert "AYUDA" in spanish.pick("safety.crisis")  # the 988 Spanish text option
    assert "marque el 2" in spanish.pick("safety.crisis")


# --- the loader's rules for numbers and layers ----------------------------------------------------------------


def write(root, locale: str, name: str, entries: dict) -> None:
    import yaml

    folder = root / locale
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(entries, allow_unicode=True), encoding="utf-8")


def emergency(number: str) -> dict:
    return {"helpline.emergency": {"source": "test", "data": f'<say-as interpret-as="telephone">{number}</say-as>'}}


def test_a_number_written_in_a_message_is_refused(tmp_path) -> None:
    write(tmp_path, "en-US", "dialog", {"safety.crisis": {"source": "test", "text": ["Call 911 now."]}})
    with pytest.raises(ContentError, match="helpline"):
        ContentLibrary.load(tmp_path)


def test_a_locale_must_define_every_help_line_it_inherits_a_use_of(tmp_path) -> None:
    write(tmp_path, "en-US", "dialog", {"safety.crisis": {"source": "test", "text": ["Call {helpline.emergency}."]}})
    write(tmp_path, "en-US", "helplines", emergency("911"))
    write(tmp_path, "en-GB", "words", {"words": {"source": "test", "data": {"call": "ring"}}})
    with pytest.raises(ContentError, match=r"en-GB.*helpline\.emergency"):
        ContentLibrary.load(tmp_path)
    write(tmp_path, "en-GB", "helplines", emergency("999"))
    library = ContentLibrary.load(tmp_path)
    assert library.locale("en-GB").pick("safety.crisis") == 'Ring <say-as interpret-as="telephone">999</say-as>.'
    assert library.locale("en-US").pick("safety.crisis") == 'Call <say-as interpret-as="telephone">911</say-as>.'


def test_language_folders_hold_only_neutral_help_lines(tmp_path) -> None:
    write(tmp_path, "en-US", "dialog", {"safety.crisis": {"source": "test", "text": ["Call {helpline.emergency}."]}})
    write(tmp_path, "en-US", "helplines", emergency("911"))
    write(
        tmp_path, "en", "helplines", {"helpline.emergency": {"source": "test", "data": "your local emergency number"}}
    )
    assert ContentLibrary.load(tmp_path).locale("en-NZ").pick("safety.crisis") == "Call your local emergency number."
    write(tmp_path, "en", "dialog", {"goodbye": {"source": "test", "text": ["bye"]}})
    with pytest.raises(ContentError, match="neutral"):
        ContentLibrary.load(tmp_path)


# --- over the real endpoint ---------------------------------------------------------------------------------------


def spoken(answer: dict) -> str:
    return answer["response"]["outputSpeech"]["ssml"]


def test_each_locale_answers_its_safety_routes_over_http(alexa: AlexaClient, library: ContentLibrary) -> None:
    for locale in (*LOCALES, "en-NZ", "es-MX"):
        alexa.locale = locale
        alexa.user_id = f"amzn1.ask.account.locale-{locale}"
        content = library.locale(locale)
        foreign = set().union(*(helpline_numbers(library, other) for other in LOCALES)) - (
            helpline_numbers(library, locale) if locale in LOCALES else set()
        )
        for intent, message_id in SAFETY_INTENTS.items():
            alexa.session = None
            answer = alexa.intent(intent)
            assert answer["sessionAttributes"]["last_message"] == message_id, (locale, intent)
            ssml = spoken(answer)
            assert plain_text(ssml) in {plain_text(v) for v in content.variants(message_id)}, (locale, intent)
            assert not numbers_in(ssml) & foreign, (locale, intent)
        alexa.session = None
        assert plain_text(spoken(alexa.launch())) in {plain_text(v) for v in content.variants("launch.first")}


# --- interaction models and the ASK package -------------------------------------------------------------------


def model_document(locale: str) -> dict:
    return json.loads((DEFAULT_MODEL_DIR / f"{locale}.json").read_text(encoding="utf-8"))


def intent_samples(locale: str) -> dict[str, list[str]]:
    return {
        i["name"]: i.get("samples", []) for i in model_document(locale)["interactionModel"]["languageModel"]["intents"]
    }


@pytest.mark.parametrize("locale", LOCALES)
def test_model_check_passes_with_conflicts_and_code(locale: str) -> None:
    report = check_model(DEFAULT_MODEL_DIR / f"{locale}.json")
    assert report.ok, report.problems
    assert report.summary["samples"] > 1000


@pytest.mark.parametrize("locale", [locale for locale in LOCALES if locale != "en-US"])
def test_generated_samples_resolve_to_their_own_intent(library: ContentLibrary, locale: str) -> None:
    """es-US: every sample. English locales: every sample of their own (not in en-US), and every 100th shared one
    (en-US's own samples are resolved in test_model)."""
    resolver = Resolver.from_model(DEFAULT_MODEL_DIR / f"{locale}.json", library.locale(locale))
    shared = {s for samples in intent_samples("en-US").values() for s in samples} if locale != "es-US" else set()
    failures, checked = [], 0
    for intent, samples in intent_samples(locale).items():
        literal = [s for s in samples if "{" not in s]
        chosen = [s for s in literal if s not in shared] + [s for s in literal if s in shared][::100]
        for sample in chosen:
            checked += 1
            got = resolver.resolve(sample).intent
            if got != intent:
                failures.append(f"{sample!r}: {got}, expected {intent}")
    assert checked > 100
    assert not failures, "\n".join(failures[:20])


@pytest.mark.parametrize(
    ("locale", "words"),
    [("en-GB", ("nappies", "wee", "telly", "boob", "breast")), ("en-AU", ("bub", "wee", "telly", "boob", "breast")),
     ("en-CA", ("boob", "breast")), ("en-IN", ("boob", "breast")), ("en-US", ("boob", "breast")),
     ("es-US", ("pecho", "chichis", "pañal"))],
)  # fmt: skip
def test_models_speak_the_locales_words(locale: str, words: tuple[str, ...]) -> None:
    text = " ".join(s for samples in intent_samples(locale).values() for s in samples).lower().split()
    for word in words:
        assert any(token.startswith(word) for token in text), (locale, word)


def test_english_grammars_extend_en_us_and_spanish_stands_alone() -> None:
    us_document = read_grammar_document(grammar_path(DEFAULT_MODEL_DIR, "en-US"))
    us = {s for samples in intent_samples("en-US").values() for s in samples}
    for locale in ("en-GB", "en-CA", "en-AU", "en-IN"):
        document = read_grammar_document(grammar_path(DEFAULT_MODEL_DIR, locale))
        for intent, body in us_document["intents"].items():  # every en-US template, plus the locale's own
            assert set((body or {}).get("samples", [])) <= set(document["intents"][intent].get("samples", [])), intent
        for name, phrases in us_document["phrases"].items():
            assert set(phrases) <= set(document["phrases"][name]), (locale, name)
        assert load_grammar(grammar_path(DEFAULT_MODEL_DIR, locale)).invocation_name == "let down helper"
    spanish = model_document("es-US")["interactionModel"]["languageModel"]
    assert spanish["invocationName"] == "ayuda de bajada de leche"
    assert invocation_name_problems(spanish["invocationName"]) == []
    # A sample that is a slot alone ("{mode}": the coach's one-word answer) has no words to translate.
    slot_alone = re.compile(r"\{\w+\}")
    shared = {
        s
        for s in us & {s for samples in intent_samples("es-US").values() for s in samples}
        if not slot_alone.fullmatch(s)
    }
    # written for Spanish speakers, not translated: only words spelled alike in both ("no", "me", "ok", and "mi",
    # Spanish "my" and the Caribbean and Scots English one) are shared
    assert shared <= {"no", "no {query}", "me {query}", "ok {query}", "mi {query}"}, shared


def test_spanish_launch_words_are_refused_in_an_invocation_name() -> None:
    assert invocation_name_problems("abre ayuda de leche")
    assert invocation_name_problems("Ayuda De Leche")


def test_ask_package_holds_all_six_locales(tmp_path, library: ContentLibrary) -> None:
    result = write_package("https://example.test/alexa", tmp_path)
    manifest = json.loads((tmp_path / "skill-package" / "skill.json").read_text(encoding="utf-8"))["manifest"]
    cards = manifest["publishingInformation"]["locales"]
    assert set(cards) == set(LOCALES)
    assert set(manifest["publishingInformation"]["distributionCountries"]) == {"US", "GB", "CA", "AU", "IN"}
    disclaimers = {"en": "not a substitute for professional medical advice", "es": "No sustituye el consejo"}
    all_numbers = {locale: helpline_numbers(library, locale) for locale in LOCALES}
    for locale, card in cards.items():
        model_file = tmp_path / "skill-package" / "interactionModels" / "custom" / f"{locale}.json"
        assert model_file in result.files
        packaged = model_file.read_text(encoding="utf-8")
        assert json.loads(packaged) == json.loads((DEFAULT_MODEL_DIR / f"{locale}.json").read_text(encoding="utf-8"))
        assert len(packaged) < MAX_MODEL_CHARACTERS, locale  # what Amazon receives
        assert disclaimers[locale[:2]] in card["description"], locale
        assert len(card["examplePhrases"]) == 3 and card["summary"] and card["name"]
        foreign = set().union(*all_numbers.values()) - all_numbers[locale]
        spoken = {re.sub(r"\D", "", n) for n in _NUMBER.findall(card["description"])}
        assert spoken, locale
        assert not spoken & foreign, (locale, spoken & foreign)
