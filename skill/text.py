"""Text normalisation shared by everything that compares what people say: safety, the model, the resolver."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

MAX_SPELLED_DIGITS = 3

_APOSTROPHES = re.compile(r"['’‘`]")
_NOT_WORD = re.compile(r"[^\w\s]|_")

_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)  # fmt: skip
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
NUMBER_VALUES: Mapping[str, int] = MappingProxyType(
    {**{word: n for n, word in enumerate(_ONES)}, **{word: 10 * n for n, word in enumerate(_TENS) if n >= 2},
     "a": 1, "an": 1}
)  # fmt: skip


def plain_words(text: str) -> str:
    """Lower-case words only: apostrophes dropped ("can't" → "cant"), other punctuation → spaces."""
    text = _APOSTROPHES.sub("", text.lower())
    return " ".join(_NOT_WORD.sub(" ", text).split())


def number_to_words(number: int) -> str:
    """0–999 as words ("10" → "ten"), so spoken-style samples match typed digits."""
    if number < 20:
        return _ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    hundreds, rest = divmod(number, 100)
    return f"{_ONES[hundreds]} hundred" + (f" {number_to_words(rest)}" if rest else "")


def spoken_form(text: str) -> str:
    """Lower-case words: numbers up to 999 spelled out, hyphens and punctuation to spaces, apostrophes
    dropped. Longer digit runs stay digits: read in pieces, "1000" would become "one hundred zero"."""
    text = re.sub(r"\d+", lambda m: f" {_spelled(m.group())} ", text)
    return plain_words(text)


def _spelled(digits: str) -> str:
    return number_to_words(int(digits)) if len(digits) <= MAX_SPELLED_DIGITS else digits
