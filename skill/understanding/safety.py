"""The one safety decision: from the intent and every text of a request, which safety route (if any) wins.

Routes and precedence are the contract's (crisis, harm_fear, baby_health, physical, low_mood). The words
are data with sources, per locale: `safety.lexicon` in skill/speech/locale/<locale>/safety_lexicon.yaml
(word families, phrases, regular expressions, context rules and negation), compiled once per process into a
`SafetyLexicon`. Nothing about what was said is stored.

A family is a named set of words or phrases ("fever", "breast", "baby"); a rule names it as `{fever}`, so that
one rule covers a whole family and families make co-occurrence rules ("{fever}" requires "{breast}") short.

`idioms` are figures of speech that use alarming words in their ordinary sense ("dying for a cup of tea", "my
nipples are killing me"), each with its plain meaning. They never hold back a route (the routes read the words
as said); they only keep a weak fuzzy match from taking the alarming word literally (`plain_meaning`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from skill.conversation.safety import ROUTE_PRECEDENCE, SAFETY_INTENTS
from skill.speech.content import LocaleContent
from skill.understanding.anchors import anchor_words, text_words
from skill.understanding.normalise import normalise
from skill.understanding.reported import FirstPerson

LEXICON_KEY = "safety.lexicon"
DEFAULT_NEGATION_WINDOW = 3
# `{name}` in a rule: a family of the lexicon's `families` (a regex repetition such as {0,3} has digits).
FAMILY_REFERENCE = re.compile(r"\{([a-z_]+)\}")


class LexiconError(ValueError):
    """The safety lexicon data is malformed; the message names the route and entry."""


@dataclass(frozen=True)
class LexiconEntry:
    route: str
    pattern: re.Pattern[str]
    unless: tuple[re.Pattern[str], ...]
    requires: tuple[re.Pattern[str], ...]
    negatable: bool
    source: str
    anchors: frozenset[str] | None = None  # words of which any match holds one (skill/understanding/anchors.py)

    def said(self, text: str, negation: re.Pattern[str] | None) -> bool | None:
        """None: the pattern is not in the text; else whether it is there once without a negation before it."""
        return _said(self.pattern, self.negatable, text, negation)

    def cleared(self, text: str, negation: re.Pattern[str] | None) -> bool:
        """The pattern is there, and a context rule or a negation says it is not this route ("hopeless at
        pumping", "hopeless for a minute at the let-down", "no fever")."""
        said = self.said(text, negation)
        return said is not None and (not said or any(rule.search(text) for rule in self.unless))

    def matches(self, text: str, negation: re.Pattern[str] | None) -> bool:
        # The pattern first: most entries do not match most texts, and their context rules then cost nothing.
        if not self.said(text, negation):
            return False
        return all(rule.search(text) for rule in self.requires) and not any(rule.search(text) for rule in self.unless)


@dataclass(frozen=True)
class WatchEntry:
    """Words that only look like safety; `negatable`: "not bleeding", "no fever" do not look like it, nor a
    text an `unless` rule matches ("the fever broke")."""

    pattern: re.Pattern[str]
    negatable: bool = False
    unless: tuple[re.Pattern[str], ...] = ()

    def seen(self, text: str, negation: re.Pattern[str] | None) -> bool:
        if not _said(self.pattern, self.negatable, text, negation):
            return False
        return not any(rule.search(text) for rule in self.unless)


def _said(pattern: re.Pattern[str], negatable: bool, text: str, negation: re.Pattern[str] | None) -> bool | None:
    """None: the pattern is not in the text; else whether it is there once without a negation before it."""
    if not (negatable and negation is not None):
        return None if pattern.search(text) is None else True
    hits = [match.start() for match in pattern.finditer(text)]
    return any(not negation.search(text[:start]) for start in hits) if hits else None


@dataclass(frozen=True)
class Idiom:
    pattern: re.Pattern[str]
    means: str  # the plain words, as a replacement (\1 for a group)


class SafetyLexicon:
    """One locale's safety lexicon, compiled: `route(texts)`, `looks_sensitive(text)`, `plain_meaning(text)`."""

    def __init__(
        self,
        entries: Sequence[LexiconEntry],
        watch: Sequence[WatchEntry],
        negation: re.Pattern[str] | None,
        idioms: Sequence[Idiom] = (),
        reported: FirstPerson | None = None,
    ) -> None:
        rank = {route: index for index, route in enumerate(ROUTE_PRECEDENCE)}
        self.entries = tuple(sorted(entries, key=lambda entry: rank.get(entry.route, len(rank))))  # stable
        # Which entries each word makes possible; entries without anchors are always tried.
        self._unanchored = frozenset(n for n, entry in enumerate(self.entries) if entry.anchors is None)
        self._by_word: dict[str, set[int]] = {}
        for n, entry in enumerate(self.entries):
            for word in entry.anchors or ():
                self._by_word.setdefault(word, set()).add(n)
        self.watch = tuple(watch)
        self.negation = negation
        self.idioms = tuple(idioms)
        self.reported = reported
        self._rank = {route: index for index, route in enumerate(ROUTE_PRECEDENCE)}

    @classmethod
    def from_content(cls, content: LocaleContent) -> SafetyLexicon:
        if not content.has_data(LEXICON_KEY):
            return cls((), (), None)
        return cls.from_data(content.data(LEXICON_KEY))

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> SafetyLexicon:
        routes = data.get("routes") or {}
        unknown = set(routes) - set(ROUTE_PRECEDENCE)
        if unknown:
            raise LexiconError(f"unknown safety routes {sorted(unknown)} (known: {', '.join(ROUTE_PRECEDENCE)})")
        families = _families(data.get("families") or {})
        entries = [
            _entry(route, index, raw, families)
            for route in ROUTE_PRECEDENCE
            for index, raw in enumerate(routes.get(route) or ())
        ]
        watch = [_watch_entry(n, raw, families) for n, raw in enumerate(data.get("watch") or ())]
        idioms = [_idiom(n, raw, families) for n, raw in enumerate(data.get("idioms") or ())]
        reported = FirstPerson.from_data(data["reported"]) if data.get("reported") else None
        return cls(entries, watch, _negation_pattern(data), idioms, reported)

    def routes(self, texts: Iterable[str | None]) -> list[str]:
        """Every route with an entry matching any of the texts, in precedence order."""
        normalised = self._readings(texts)
        found = {
            entry.route for text in normalised for entry in self._candidates(text) if entry.matches(text, self.negation)
        }
        return [route for route in ROUTE_PRECEDENCE if route in found]

    def route(self, texts: Iterable[str | None]) -> str | None:
        """The first route by precedence that any text matches."""
        found = [route for route in (self._first_route(text) for text in self._readings(texts)) if route]
        return min(found, key=self._rank.__getitem__, default=None)

    def _readings(self, texts: Iterable[str | None]) -> list[str]:
        """Each text normalised, and also in the first person when someone reports the parent's words."""
        readings = []
        for text in texts:
            if text:
                normalised = normalise(text)
                readings.append(normalised)
                first_person = self.reported.reading(normalised) if self.reported else None
                if first_person:
                    readings.append(first_person)
        return readings

    def _first_route(self, normalised: str) -> str | None:
        """The route of the first entry the text matches (entries are held in precedence order)."""
        candidates = self._candidates(normalised)
        return next((entry.route for entry in candidates if entry.matches(normalised, self.negation)), None)

    def _candidates(self, normalised: str) -> Iterator[LexiconEntry]:
        """The entries, in precedence order, that the text's words leave possible (most texts rule out most)."""
        possible = set(self._unanchored)
        for word in text_words(normalised):
            possible.update(self._by_word.get(word, ()))
        return (self.entries[n] for n in sorted(possible))

    def cleared(self, text: str) -> bool:
        """Some entry's words are there but its own context rule clears them (for a text no route matched)."""
        normalised = normalise(text)
        return any(entry.cleared(normalised, self.negation) for entry in self._candidates(normalised))

    def looks_sensitive(self, text: str) -> bool:
        """Words that only look like safety (pain, sad, hurt…): a weak match must not send them elsewhere."""
        plain = self.plain_meaning(text)
        return any(entry.seen(plain, self.negation) for entry in self.watch)

    def plain_meaning(self, text: str) -> str:
        """The normalised text with each idiom replaced by its plain words ("dying for tea" → "want tea")."""
        plain = normalise(text)
        for idiom in self.idioms:
            plain = idiom.pattern.sub(idiom.means, plain)
        return " ".join(plain.split())


def decide(lexicon: SafetyLexicon, intent_name: str | None, texts: Iterable[str | None]) -> str | None:
    """The winning safety route for a request: the intent's own route and every text's, by precedence."""
    found = {lexicon.route(texts), SAFETY_INTENTS.get(intent_name or "")} - {None}
    return next((route for route in ROUTE_PRECEDENCE if route in found), None)


def _families(raw: Any) -> dict[str, str]:
    """Each family as one regex alternation; a family may name the families defined before it."""
    if not isinstance(raw, Mapping):
        raise LexiconError("families: must be a mapping of name to phrases or pattern")
    families: dict[str, str] = {}
    for name, members in raw.items():
        where = f"family {name}"
        if not isinstance(name, str) or not FAMILY_REFERENCE.fullmatch("{" + name + "}"):
            raise LexiconError(f"{where}: a name is lower-case letters and underscores")
        if isinstance(members, str):
            pattern = _expanded(members, where, families)
        elif isinstance(members, Sequence) and members:
            phrases = sorted({normalise(str(p)) for p in members} - {""}, key=len, reverse=True)
            pattern = "|".join(re.escape(p) for p in phrases)
        else:
            raise LexiconError(f"{where}: needs a pattern or a non-empty list of phrases")
        families[name] = f"(?:{pattern})"
        _compiled(families[name], where, families)
    return families


def _expanded(pattern: str, where: str, families: Mapping[str, str]) -> str:
    def family(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in families:
            raise LexiconError(f"{where}: unknown family {{{name}}} (known: {', '.join(families) or 'none'})")
        return families[name]

    return FAMILY_REFERENCE.sub(family, pattern)


def _entry(route: str, index: int, raw: Any, families: Mapping[str, str]) -> LexiconEntry:
    where = f"{route} entry {index + 1}"
    if not isinstance(raw, Mapping):
        raise LexiconError(f"{where}: must be a mapping")
    source = raw.get("source")
    if not isinstance(source, str) or not source.strip():
        raise LexiconError(f"{where}: needs a non-empty source")
    if ("phrases" in raw) == ("pattern" in raw):
        raise LexiconError(f"{where}: needs exactly one of phrases or pattern")
    if "phrases" in raw:
        phrases = sorted({normalise(str(p)) for p in raw["phrases"]} - {""}, key=len, reverse=True)
        if not phrases:
            raise LexiconError(f"{where}: phrases is empty")
        pattern = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in phrases) + r")\b")
    else:
        pattern = _compiled(raw["pattern"], where, families)
    return LexiconEntry(
        route=route,
        pattern=pattern,
        unless=tuple(_compiled(rule, f"{where} unless", families) for rule in raw.get("unless") or ()),
        requires=tuple(_compiled(rule, f"{where} requires", families) for rule in raw.get("requires") or ()),
        negatable=bool(raw.get("negatable", False)),
        source=source.strip(),
        anchors=anchor_words(pattern.pattern),
    )


def _watch_entry(index: int, raw: Any, families: Mapping[str, str]) -> WatchEntry:
    where = f"watch {index + 1}"
    if not isinstance(raw, Mapping):
        raise LexiconError(f"{where}: must be a mapping")
    return WatchEntry(
        pattern=_compiled(raw.get("pattern"), where, families),
        negatable=bool(raw.get("negatable", False)),
        unless=tuple(_compiled(rule, f"{where} unless", families) for rule in raw.get("unless") or ()),
    )


def _idiom(index: int, raw: Any, families: Mapping[str, str]) -> Idiom:
    where = f"idiom {index + 1}"
    if not isinstance(raw, Mapping) or not isinstance(raw.get("means"), str):
        raise LexiconError(f"{where}: needs a pattern and what it means (means: plain words, or '')")
    pattern = _compiled(raw.get("pattern"), where, families)
    groups = {int(number) for number in re.findall(r"\\(\d+)", raw["means"])}
    if any(group > pattern.groups for group in groups):
        raise LexiconError(f"{where}: means {raw['means']!r} names a group the pattern does not have")
    return Idiom(pattern, raw["means"])


def _compiled(pattern: Any, where: str, families: Mapping[str, str]) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern:
        raise LexiconError(f"{where}: pattern must be a non-empty string")
    try:
        return re.compile(_expanded(pattern, where, families))
    except re.error as error:
        raise LexiconError(f"{where}: bad regular expression {pattern!r}: {error}") from None


def _negation_pattern(data: Mapping[str, Any]) -> re.Pattern[str] | None:
    cues = sorted({normalise(str(cue)) for cue in data.get("negation_cues") or ()} - {""}, key=len, reverse=True)
    if not cues:
        return None
    window = int(data.get("negation_window", DEFAULT_NEGATION_WINDOW))
    # A cue, then at most `window` other words, then the end (the match follows directly).
    return re.compile(r"\b(?:" + "|".join(re.escape(c) for c in cues) + r")\b(?:\s+\w+){0," + str(window) + r"}\s*$")
