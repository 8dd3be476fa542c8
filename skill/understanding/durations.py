"""Spoken durations ("ten minutes", "a minute and a half", "diez minutos", "media hora") as ISO 8601 (PT10M).

Alexa fills AMAZON.DURATION itself; the project's resolver needs the same for the words it resolves, in each
language of the models. The words are data per language; one pattern and one parser serve them all."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from skill.text import NUMBER_VALUES, spoken_form


def iso_duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + (f"{secs}S" if secs else "")
    return "PT" + (parts or "0S")


def _alternatives(words: Iterable[str]) -> str:
    return "(?:" + "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True)) + ")"


@dataclass(frozen=True)
class DurationWords:
    numbers: Mapping[str, int]
    units: Mapping[str, int]  # unit word → seconds
    halves: tuple[str, ...]  # "half a minute", "media hora": these words, then a unit
    and_a_half: tuple[str, ...]  # "a minute and a half", "un minuto y medio": a unit, then these words
    counts: Mapping[str, int] = field(default_factory=dict)  # "a couple of" → 2, "a few" → 3
    number_joiner: str = ""  # "treinta y cinco": the word between tens and ones ("" for "twenty five")

    @property
    def pattern(self) -> str:
        number_word = _alternatives(self.numbers)
        joiner = f"(?: {re.escape(self.number_joiner)})?" if self.number_joiner else ""
        number = rf"(?:\d+|{number_word}(?:{joiner} {number_word})?|{_alternatives(self.counts)})"
        unit = _alternatives(self.units)
        half = rf"{_alternatives(self.halves)} {unit}"
        return rf"(?:{number} {unit}(?: {_alternatives(self.and_a_half)})?|{half})"

    def iso(self, spoken: str) -> str | None:
        """The duration the words name, or None when they are not one."""
        text = spoken_form(spoken)
        if not re.fullmatch(self.pattern, text):
            return None
        for halves in self.halves:
            if text.startswith(halves + " "):
                return iso_duration(self.units[text.split()[-1]] // 2)
        ending = next((words for words in self.and_a_half if text.endswith(" " + words)), "")
        if ending:
            text = text[: -len(ending) - 1]
        for count, value in self.counts.items():
            if text.startswith(count + " "):
                amount_words: list[str] = []
                amount = value
                break
        else:
            amount_words = text.split()[:-1]
            amount = sum(int(w) if w.isdigit() else self.numbers[w] for w in amount_words if w != self.number_joiner)
        unit = self.units[text.split()[-1]]
        return iso_duration(amount * unit + (unit // 2 if ending else 0))


_EN_UNITS = {"second": 1, "seconds": 1, "sec": 1, "secs": 1, "minute": 60, "minutes": 60, "min": 60, "mins": 60,
             "hour": 3600, "hours": 3600}  # fmt: skip
_ES_NUMBERS = {"un": 1, "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7,
               "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12, "trece": 13, "catorce": 14, "quince": 15,
               "dieciséis": 16, "diecisiete": 17, "dieciocho": 18, "diecinueve": 19, "veinte": 20,
               "veinticinco": 25, "treinta": 30, "cuarenta": 40, "cincuenta": 50, "sesenta": 60,
               "noventa": 90}  # fmt: skip
_ES_UNITS = {"segundo": 1, "segundos": 1, "minuto": 60, "minutos": 60, "hora": 3600, "horas": 3600}

DURATION_WORDS: Mapping[str, DurationWords] = MappingProxyType(
    {
        "en": DurationWords(
            numbers=NUMBER_VALUES,
            units=MappingProxyType(_EN_UNITS),
            halves=("half a", "half an"),
            and_a_half=("and a half",),
            counts=MappingProxyType({"a couple of": 2, "a few": 3}),
        ),
        "es": DurationWords(
            numbers=MappingProxyType(_ES_NUMBERS),
            units=MappingProxyType(_ES_UNITS),
            halves=("medio", "media"),
            and_a_half=("y medio", "y media"),
            counts=MappingProxyType({"un par de": 2, "unos": 3, "unos pocos": 3, "unas": 3, "unas pocas": 3}),
            number_joiner="y",
        ),
    }
)


def duration_words(locale: str | None) -> DurationWords:
    """The duration words of a locale's language (English for a language without its own)."""
    return DURATION_WORDS.get((locale or "en").split("-")[0], DURATION_WORDS["en"])
