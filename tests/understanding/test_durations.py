"""Spoken durations in each model language, as Alexa's AMAZON.DURATION would carry them."""

from __future__ import annotations

import pytest

from skill.config import Config
from skill.interaction_model import ModelCatalog
from skill.speech.content import ContentLibrary
from skill.understanding.catalog import ResolverCatalog
from skill.understanding.durations import duration_words


@pytest.mark.parametrize(
    ("locale", "spoken", "iso"),
    [
        ("en-US", "ten minutes", "PT10M"),
        ("en-GB", "a minute and a half", "PT1M30S"),
        ("en-US", "half a minute", "PT30S"),
        ("en-US", "a couple of minutes", "PT2M"),
        ("en-US", "twenty five seconds", "PT25S"),
        ("en-US", "90 seconds", "PT1M30S"),
        ("es-US", "diez minutos", "PT10M"),
        ("es-US", "un minuto y medio", "PT1M30S"),
        ("es-US", "media hora", "PT30M"),
        ("es-US", "treinta y cinco segundos", "PT35S"),
        ("es-MX", "un par de minutos", "PT2M"),
        ("es-US", "dos horas y media", "PT2H30M"),
        ("fr-FR", "ten minutes", "PT10M"),  # a language without its own words: English
    ],
)
def test_spoken_durations_become_iso_8601(locale: str, spoken: str, iso: str) -> None:
    assert duration_words(locale).iso(spoken) == iso


@pytest.mark.parametrize(
    ("locale", "spoken"),
    [("en-US", "ten"), ("en-US", "minutes"), ("en-US", "diez minutos"), ("es-US", "ten minutes"), ("es-US", "diez")],
)
def test_other_words_are_not_durations(locale: str, spoken: str) -> None:
    assert duration_words(locale).iso(spoken) is None


def test_the_spanish_resolver_hears_a_spanish_duration() -> None:
    config = Config.from_env({})
    catalog = ResolverCatalog.load(config.model_dir, ModelCatalog.load(config.model_dir), ContentLibrary.load())
    resolver = catalog.for_locale("es-US")
    assert resolver is not None
    resolution = resolver.resolve("quiero respirar diez minutos")
    assert resolution.intent == "BreathingIntent"
    assert resolution.slots["duration"]["value"] == "PT10M"
