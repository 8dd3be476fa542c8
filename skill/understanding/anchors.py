"""Anchor words of a regular expression: whole words of which any match must contain at least one.

The safety lexicon tries hundreds of patterns on every text, and nearly every text matches none of them. Most
patterns need a word that ordinary texts lack ("pills", "bridge", "myself"), so a text none of whose words is
among a pattern's anchors cannot match it, and the pattern is not tried. The anchors are read from the
pattern itself (its parse tree, from `re`'s own parser), never written by hand, so they cannot fall out of
step with it; a pattern with no certain anchor (a word stem, a character class) gets None and is always tried.

A literal counts as a whole word only when it is all word characters with a space, `\\b`, `^`, `$` or `\\s` on
both sides in every way the pattern can match, so it is then a whole word of the text (`re.findall(r"\\w+")`).
"""

from __future__ import annotations

import functools
import re

# re's own parser: what the module sre_parse was until 3.11 deprecated it (typeshed stubs only the old names)
import re._constants as sre  # type: ignore[import-not-found]
import re._parser as sre_parse  # type: ignore[import-not-found]
from collections.abc import Sequence
from typing import Any

WORD = re.compile(r"\w+")
# Words in nearly every sentence: a set of anchors holding one of them would let almost every text through.
COMMON = frozenset({"i", "a", "an", "the", "my", "me", "to", "and", "of", "it", "is", "am", "in", "on", "for"})
COMMON |= {"you", "he", "she", "her", "him", "they", "them", "be"}
SPACE = ord(" ")
Item = tuple[Any, Any]


@functools.cache  # a pure function of the pattern; the English locales share one lexicon's patterns
def anchor_words(pattern: str) -> frozenset[str] | None:
    """Whole words of which every match of `pattern` holds at least one, or None when there are none certain."""
    try:
        parsed = sre_parse.parse(pattern)
    except re.error:
        return None
    if parsed.state.flags & (sre.SRE_FLAG_IGNORECASE | sre.SRE_FLAG_VERBOSE):
        return None
    return _sequence(list(parsed), left_bounded=False, right_bounded=False)


def text_words(text: str) -> frozenset[str]:
    return frozenset(WORD.findall(text))


def _sequence(items: Sequence[Item], left_bounded: bool, right_bounded: bool) -> frozenset[str] | None:
    """The best anchor set among a sequence's required parts (each part is needed, so any one will do)."""
    options: list[frozenset[str]] = []
    index = 0
    while index < len(items):
        op, value = items[index]
        if op is sre.LITERAL:
            end = index
            while end < len(items) and items[end][0] is sre.LITERAL:
                end += 1
            left = _bounded_before(items, index, left_bounded)
            right = _bounded_after(items, end, right_bounded)
            words = _whole_words("".join(chr(char) for _, char in items[index:end]), left, right)
            if words:
                options.append(frozenset({max(words, key=len)}))
            index = end
            continue
        left = _bounded_before(items, index, left_bounded)
        right = _bounded_after(items, index + 1, right_bounded)
        found = _item(op, value, left, right)
        if found:
            options.append(found)
        index += 1
    return min(options, key=_cost, default=None)


def _item(op: Any, value: Any, left: bool, right: bool) -> frozenset[str] | None:
    if op is sre.SUBPATTERN:
        return _sequence(list(value[-1]), left, right)
    if op is sre.BRANCH:
        alternatives = [_sequence(list(branch), left, right) for branch in value[1]]
        if any(found is None for found in alternatives):
            return None
        return frozenset().union(*alternatives)  # type: ignore[arg-type]
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and value[0] == value[1] == 1:
        return _sequence(list(value[2]), left, right)
    return None


def _whole_words(literal: str, left: bool, right: bool) -> list[str]:
    pieces = literal.split(" ")
    whole = []
    for position, piece in enumerate(pieces):
        starts = position > 0 or left
        ends = position < len(pieces) - 1 or right
        if starts and ends and piece and WORD.fullmatch(piece):
            whole.append(piece)
    return whole


def _bounded_before(items: Sequence[Item], index: int, outer: bool) -> bool:
    """Whatever the pattern matched just before items[index] ends at a word boundary."""
    for op, value in reversed(items[:index]):
        if _zero_width(op, value):
            if _is_boundary(op, value):
                return True
            continue
        if _optional(op, value):
            if not _edge_is_boundary(value[2], last=True):
                return False
            continue
        return _edge_is_boundary([(op, value)], last=True)
    return outer


def _bounded_after(items: Sequence[Item], index: int, outer: bool) -> bool:
    """Whatever the pattern matches just after items[index - 1] starts at a word boundary."""
    for op, value in items[index:]:
        if _zero_width(op, value):
            if _is_boundary(op, value):
                return True
            continue
        if _optional(op, value):
            if not _edge_is_boundary(value[2], last=False):
                return False
            continue
        return _edge_is_boundary([(op, value)], last=False)
    return outer


def _zero_width(op: Any, value: Any) -> bool:
    return op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT)


def _is_boundary(op: Any, value: Any) -> bool:
    return op is sre.AT and value in (sre.AT_BOUNDARY, sre.AT_BEGINNING, sre.AT_BEGINNING_STRING, sre.AT_END)


def _optional(op: Any, value: Any) -> bool:
    return op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and value[0] == 0


def _edge_is_boundary(items: Sequence[Item], last: bool) -> bool:
    """Every way these items can match ends (last) or starts with a space or a word boundary."""
    if not items:
        return False
    op, value = items[-1] if last else items[0]
    if op is sre.LITERAL:
        return value == SPACE
    if op is sre.IN:
        return value == [(sre.CATEGORY, sre.CATEGORY_SPACE)]
    if _is_boundary(op, value):
        return True
    if op is sre.SUBPATTERN:
        return _edge_is_boundary(list(value[-1]), last)
    if op is sre.BRANCH:
        return all(_edge_is_boundary(list(branch), last) for branch in value[1])
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and value[0] >= 1:
        return _edge_is_boundary(list(value[2]), last)
    return False


def _cost(words: frozenset[str]) -> tuple[int, int]:
    """Fewer texts pass a set without common words, and then a smaller set."""
    return (sum(word in COMMON or len(word) < 3 for word in words), len(words))
