"""Anchor words: the safety lexicon tries a pattern only on texts holding one of its anchors, so an anchor set
that a match can do without would silently drop a safety route. Checked on every pattern of every locale's
lexicon against every text the project has (the lexicon's cases and the development sets, never the held-out
evaluation set), and on small patterns whose anchors are known."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from skill.speech.content import ContentLibrary
from skill.understanding.anchors import anchor_words, text_words
from skill.understanding.normalise import normalise
from skill.understanding.safety import SafetyLexicon

TESTS = Path(__file__).resolve().parents[1]
LIBRARY = ContentLibrary.load()


def project_texts() -> list[str]:
    cases = yaml.safe_load((TESTS / "understanding" / "safety_cases.yaml").read_text(encoding="utf-8"))["cases"]
    texts = [case["text"] for case in cases]
    for path in sorted((TESTS / "nlu").glob("dev_set*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert document["held_out"] is False
        texts += [text for group in document["groups"] for text in group["cases"]]
    return [normalise(text) for text in texts]


TEXTS = project_texts()
WORDS = [text_words(text) for text in TEXTS]


@pytest.mark.parametrize(
    ("pattern", "anchors"),
    [
        (r"\bkill myself\b", {"myself"}),
        (r"\b(pills|tablets) (hidden|stashed)\b", {"pills", "tablets"}),
        (r"\b(really )?sad\b", {"sad"}),
        (r"^(so )?numb\s*$", {"numb"}),
        (r"\b(i|we) (would|will) be better off (gone|dead)\b", {"better"}),
        (r"\bno (point|reason) (in |to )?living\b(?! here)", {"living"}),
        (r"\b(sad|low)(\s\w+){0,3} (every day|all day)\b", {"sad", "low"}),
    ],
)
def test_anchors_are_whole_words_every_match_needs(pattern: str, anchors: set[str]) -> None:
    assert anchor_words(pattern) == anchors


@pytest.mark.parametrize(
    "pattern",
    [
        r"\bstockpil\w*",  # a stem: the word itself varies
        r"(done|finished) with",  # no boundary before "done": it may end a longer word ("undone with")
        r"\b(sad|\w+ly) today",  # "today" has no boundary after it
        r"\b(pills|[a-z]+s)\b",  # one alternative is a character class
        r"\b(pills)?\b",  # optional: a match may hold no word at all
        r"(?i)\bpills\b",  # case-insensitive: the text's words may differ in case
    ],
)
def test_patterns_without_certain_anchors_get_none(pattern: str) -> None:
    assert anchor_words(pattern) is None


@pytest.mark.parametrize("locale", ["en-US", "es-US"])  # the English locales share en-US's lexicon
def test_no_pattern_matches_a_text_its_anchors_rule_out(locale: str) -> None:
    lexicon = SafetyLexicon.from_content(LIBRARY.locale(locale))
    anchored = [entry for entry in lexicon.entries if entry.anchors is not None]
    missed = [
        (entry.source, text)
        for text, words in zip(TEXTS, WORDS, strict=True)
        for entry in anchored
        if entry.anchors is not None and entry.anchors.isdisjoint(words) and entry.pattern.search(text)
    ]
    assert missed == []


def test_most_of_the_lexicon_is_anchored_and_most_texts_try_few_entries() -> None:
    lexicon = SafetyLexicon.from_content(LIBRARY.locale("en-US"))
    assert sum(entry.anchors is not None for entry in lexicon.entries) >= 0.9 * len(lexicon.entries)
    tried = sum(
        entry.anchors is None or not entry.anchors.isdisjoint(words) for words in WORDS for entry in lexicon.entries
    )
    assert tried <= 0.25 * len(TEXTS) * len(lexicon.entries)
