"""The locale content: every message the contract names exists, is valid Alexa SSML, short first, sourced;
the loader refuses malformed content with a clear error and falls back between locales."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from skill.config import DEFAULT_AUDIO_DIR
from skill.conversation.safety import ROUTE_PRECEDENCE
from skill.speech.content import (
    MAX_SPEECH_CHARS,
    ContentError,
    ContentLibrary,
    plain_text,
    ssml_problems,
)
from skill.understanding.safety import LEXICON_KEY

FIRST_ANSWER_MAX_WORDS = 35
LONG_FORM_MAX_WORDS = 90
# Spoken in full on devices without audio: the one message the contract lets run to the long-form limit.
LONG_TEXT_MESSAGES = {"letdown.routine_spoken"}
CONTRACT_MESSAGE_IDS = {
    "launch.first", "launch.returning", "launch.reprompt",
    "about.letdown", "about.feel", "about.signs", "about.blockers", "about.timing",
    "tip.relax", "tip.comfort", "tip.baby", "tip.pumping_away", "tip.head_start", "tip.pain", "tip.massage",
    "tip.warmth", "tip.all_heard",
    "offer.next_tip", "offer.more", "offer.breathing", "offer.reprompt",
    "dmer.about", "dmer.coping", "dmer.provider", "reassure.no_right_way",
    "safety.physical", "safety.crisis", "safety.low_mood", "safety.harm_fear", "safety.baby_health",
    "help.main", "help.reprompt", "fallback.main", "fallback.reprompt", "goodbye", "error.generic",
    "error.reprompt", "repeat.nothing", "more.nothing", "no.ack", "home.main", "whisper.on", "whisper.off",
    "letdown.routine", "letdown.routine_spoken", "track.too_long_for_device",
    "audio.not_available", "audio.nothing_to_resume", "audio.resume_offer",
}  # fmt: skip
LONG_FORM_MESSAGES = {
    "about.letdown", "about.feel", "about.signs", "about.blockers", "about.timing",
    "tip.relax", "tip.comfort", "tip.baby", "tip.pumping_away", "tip.head_start", "tip.pain", "tip.massage",
    "tip.warmth", "dmer.about", "dmer.coping", "reassure.no_right_way",
}  # fmt: skip
FREQUENT_MESSAGES = {
    "launch.returning", "help.main", "fallback.main", "goodbye", "error.generic", "no.ack",
    "offer.next_tip", "offer.more", "offer.breathing",
}  # fmt: skip


@pytest.fixture(scope="module")
def library() -> ContentLibrary:
    return ContentLibrary.load()


@pytest.fixture(scope="module")
def en_us(library: ContentLibrary):
    return library.locale("en-US")


def words(ssml: str) -> int:
    return len(plain_text(ssml).split())


def catalog_track_ids() -> list[str]:
    """The tracks a parent can ask for (the coach's clips are played inside its own answers, with no intro)."""
    catalog = tomllib.loads((DEFAULT_AUDIO_DIR / "catalog.toml").read_text(encoding="utf-8"))
    return [track["id"] for track in catalog["track"] if track.get("kind", "track") != "clip"]


def test_every_contract_message_exists(en_us) -> None:
    missing = CONTRACT_MESSAGE_IDS - set(en_us.message_ids())
    assert not missing
    for message_id in LONG_FORM_MESSAGES:
        assert en_us.has(message_id, "long"), message_id


def test_every_catalog_track_has_an_intro(en_us) -> None:
    for track_id in catalog_track_ids():
        assert en_us.has(f"track.intro.{track_id}"), track_id


# The loader refuses content without a source or with SSML Alexa rejects (a message whose source is
# blank, a variant with a disallowed tag or over the size limit), so a loaded library cannot hold one:
# these tests feed it such files, rather than re-checking the loaded content.


@pytest.mark.parametrize(
    "entry",
    [
        {"broken.message": {"source": "   ", "text": ["hello"]}},
        {"broken.message": {"source": "", "data": {"crisis": ["a phrase"]}}},
    ],
)
def test_loader_rejects_a_blank_source(tmp_path: Path, entry: dict) -> None:
    write_locale(tmp_path, "en-US", entry)
    with pytest.raises(ContentError, match=r"broken\.message.*non-empty `source`"):
        ContentLibrary.load(tmp_path)


@pytest.mark.parametrize(
    ("variant", "complaint"),
    [
        ("x" * (MAX_SPEECH_CHARS + 1), "longer than"),
        ('<audio src="http://example.com/a.mp3"/>', "https://"),
        ("<p>fine</p><font size='3'>not Alexa's</font>", "<font>"),
    ],
)
def test_loader_rejects_ssml_alexa_would_refuse(tmp_path: Path, variant: str, complaint: str) -> None:
    assert ssml_problems(variant)  # the same check the loader runs on every variant
    write_locale(tmp_path, "en-US", {"broken.message": {"source": "dialog", "text": [variant]}})
    with pytest.raises(ContentError, match=r"broken\.message") as error:
        ContentLibrary.load(tmp_path)
    assert complaint in str(error.value)


def test_first_answers_are_short_and_long_forms_bounded(en_us) -> None:
    for message_id in en_us.message_ids():
        message = en_us.message(message_id)
        limit = LONG_FORM_MAX_WORDS if message_id in LONG_TEXT_MESSAGES else FIRST_ANSWER_MAX_WORDS
        for variant in message.forms["text"]:
            assert words(variant) <= limit, (message_id, words(variant))
        for variant in message.forms.get("reprompt", ()):
            assert words(variant) <= FIRST_ANSWER_MAX_WORDS, message_id
        for variant in message.forms.get("long", ()):
            assert words(variant) <= LONG_FORM_MAX_WORDS, (message_id, words(variant))


def test_variant_counts(en_us) -> None:
    for message_id in en_us.message_ids():
        assert 1 <= len(en_us.variants(message_id)) <= 4, message_id
    for message_id in FREQUENT_MESSAGES:
        assert 2 <= len(en_us.variants(message_id)) <= 4, message_id


def test_pick_returns_one_of_the_variants(en_us) -> None:
    for _ in range(20):
        assert en_us.pick("goodbye") in en_us.variants("goodbye")
    assert en_us.pick("tip.relax", "long") in en_us.variants("tip.relax", "long")


def test_safety_lexicon_is_data_not_messages(en_us) -> None:
    assert LEXICON_KEY not in en_us.message_ids()
    routes = en_us.data(LEXICON_KEY)["routes"]
    for route in ROUTE_PRECEDENCE:
        assert routes[route], route
        assert isinstance(routes[route], tuple)  # immutable after load
        assert all(entry["source"].strip() for entry in routes[route]), route
    with pytest.raises(TypeError):
        routes["crisis"] = ()  # type: ignore[index]


def test_locale_fallback(tmp_path: Path) -> None:
    for locale in ("en-US", "es-US"):
        write_locale(tmp_path, locale, {"goodbye": {"source": "dialog", "text": [f"bye from {locale}"]}})
    library = ContentLibrary.load(tmp_path)
    assert library.locale("en-US").locale == "en-US"
    assert library.locale("en-GB").locale == "en-US"
    assert library.locale("es-MX").locale == "es-US"
    assert library.locale("fr-FR").locale == "en-US"
    assert library.locale(None).locale == "en-US"
    assert library.locale("es-US").pick("goodbye") == "bye from es-US"


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        ({"text": ["hello"]}, "source"),
        ({"source": "dialog"}, "text"),
        ({"source": "dialog", "text": ["fish & chips"]}, "not well-formed"),
        ({"source": "dialog", "text": ["<b>bold</b>"]}, "<b>"),
        ({"source": "dialog", "text": ['wait <break time="20s"/>']}, "break"),
        ({"source": "dialog", "text": ["<speak>nested</speak>"]}, "speak"),
        ({"source": "dialog", "text": []}, "non-empty"),
        ({"source": "dialog", "text": ["hi"], "tone": "warm"}, "unknown keys"),
        ({"source": "dialog", "text": ["ok"], "long": ["<s>unclosed"]}, "long"),
    ],
)
def test_loader_rejects_malformed_messages(tmp_path: Path, entry: dict, complaint: str) -> None:
    write_locale(tmp_path, "en-US", {"broken.message": entry})
    with pytest.raises(ContentError, match=r"broken\.message") as error:
        ContentLibrary.load(tmp_path)
    assert complaint in str(error.value)


def test_loader_needs_en_us_and_locale_folders(tmp_path: Path) -> None:
    write_locale(tmp_path, "es-US", {"goodbye": {"source": "dialog", "text": ["adiós"]}})
    with pytest.raises(ContentError, match="en-US"):
        ContentLibrary.load(tmp_path)
    (tmp_path / "english").mkdir()
    with pytest.raises(ContentError, match="english"):
        ContentLibrary.load(tmp_path)


def test_loader_accepts_amazon_tags(tmp_path: Path) -> None:
    text = '<amazon:effect name="whispered">shh</amazon:effect> <say-as interpret-as="characters">IBCLC</say-as>'
    write_locale(tmp_path, "en-US", {"quiet": {"source": "dialog", "text": [text]}})
    assert ContentLibrary.load(tmp_path).locale("en-US").pick("quiet") == text


def write_locale(root: Path, locale: str, messages: dict) -> None:
    import yaml

    folder = root / locale
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dialog.yaml").write_text(yaml.safe_dump(messages), encoding="utf-8")
