"""The interaction model's source: a readable grammar per locale, expanded into the ASK model JSON.

A grammar file (`interaction_model/grammar/<locale>.yaml`) holds the invocation name, the slot types,
shared phrase lists and, per intent, templates written in the Home Assistant intent syntax (hassil):

    (a|b)     one of the alternatives          [the]     an optional word or group
    <milk>    any phrase of the phrase list    {topic}   an ASK slot, kept as is in the sample

Expansion is deterministic: each template's sentences are whitespace-normalised, de-duplicated, sorted
and, above the template's cap, thinned to its shortest forms plus an evenly spaced pick of the rest; an intent's samples
are the sorted union of its templates', keeping one of any that sound the same ("let-down", "let down").
Samples shared by two intents are not removed here: `letdown model check` reports them.
hassil is used because its syntax is exactly this one and its sampler is a maintained, tested expander
(the Home Assistant voice intents are built with it).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hassil.errors import MissingRuleError
from hassil.expression import Sentence
from hassil.parse_expression import ParseError, parse_sentence
from hassil.sample import sample_expression

from skill.text import spoken_form
from skill.yaml_files import YAMLError, read_yaml

DEFAULT_TEMPLATE_CAP = 400
FALLBACK_SENSITIVITY = "LOW"
_SLOT_REFERENCE = re.compile(r"\{([^{}]*)\}")
# hassil reads ";" as a permutation and "\" as an escape: neither is wanted in an Alexa sample.
_RESERVED = re.compile(r"[;\\]")


def sample_key(sample: str) -> str:
    """What Alexa hears of a sample: `spoken_form` of its words ("let-down" = "let down"), slot references kept."""
    parts = _SLOT_REFERENCE.split(sample)
    words = [spoken_form(part) if index % 2 == 0 else f"{{{part}}}" for index, part in enumerate(parts)]
    return " ".join(word for word in words if word)


class GrammarError(ValueError):
    """The grammar file cannot be expanded (bad syntax, unknown phrase list or slot, wrong shape)."""


@dataclass(frozen=True)
class SlotTypeValue:
    id: str
    value: str
    synonyms: tuple[str, ...]


@dataclass(frozen=True)
class IntentGrammar:
    name: str
    slots: Mapping[str, str]  # slot name → slot type
    templates: tuple[str, ...]


@dataclass(frozen=True)
class Grammar:
    """A parsed grammar file. `phrase_lists` maps each list name to its expanded phrases."""

    invocation_name: str
    fallback_sensitivity: str
    template_cap: int
    phrase_lists: Mapping[str, tuple[str, ...]]
    slot_types: Mapping[str, tuple[SlotTypeValue, ...]]
    intents: tuple[IntentGrammar, ...]
    _rules: Mapping[str, Sentence]

    def expand_template(self, template: str) -> tuple[str, ...]:
        """Every sentence of one template (sorted, unique, capped), slots kept as `{name}`."""
        return _capped(_expand(template, self._rules), self.template_cap)

    def intent_samples(self, intent: IntentGrammar) -> tuple[str, ...]:
        samples: dict[str, str] = {}  # sample_key → the first sample (in sorted order) that sounds like it
        for template in intent.templates:
            try:
                expanded = self.expand_template(template)
            except GrammarError as error:
                raise GrammarError(f"{intent.name}: {error}") from error
            for sample in expanded:
                unknown = [slot for slot in _SLOT_REFERENCE.findall(sample) if slot not in intent.slots]
                if unknown:
                    raise GrammarError(f"{intent.name}: template {template!r} uses undeclared slot {{{unknown[0]}}}")
                key = sample_key(sample)
                samples[key] = min(samples.get(key, sample), sample)
        return tuple(sorted(samples.values()))

    def samples(self) -> Mapping[str, tuple[str, ...]]:
        """Intent name → its generated samples, in the grammar's intent order."""
        return MappingProxyType({intent.name: self.intent_samples(intent) for intent in self.intents})

    def expand(self) -> dict[str, Any]:
        """The ASK interaction model document (`interactionModel.languageModel`) this grammar generates."""
        intents = []
        for intent in self.intents:
            entry: dict[str, Any] = {"name": intent.name}
            if intent.slots:
                entry["slots"] = [{"name": name, "type": slot_type} for name, slot_type in intent.slots.items()]
            entry["samples"] = list(self.intent_samples(intent))
            intents.append(entry)
        types = [
            {
                "name": name,
                "values": [
                    {"id": value.id, "name": {"value": value.value, "synonyms": list(value.synonyms)}}
                    for value in values
                ],
            }
            for name, values in self.slot_types.items()
        ]
        language: dict[str, Any] = {
            "invocationName": self.invocation_name,
            "modelConfiguration": {"fallbackIntentSensitivity": {"level": self.fallback_sensitivity}},
            "intents": intents,
            "types": types,
        }
        return {"interactionModel": {"languageModel": language}}


def load_grammar(path: Path) -> Grammar:
    """Reads and parses a grammar file; raises GrammarError (or OSError) when it cannot be used."""
    return grammar_from_dict(read_grammar_document(Path(path)), source=str(path))


def read_grammar_document(path: Path, seen: tuple[Path, ...] = ()) -> Any:
    """The grammar document, with `extends: <locale>` resolved: a locale's grammar (en-GB) reuses another's
    (en-US) and adds its own words. Its phrase lists add to the parent's lists of the same name, its intents'
    samples to the parent's templates, its slot type values to the parent's; anything else replaces."""
    try:
        document = read_yaml(path)
    except YAMLError as error:
        raise GrammarError(f"{path}: not YAML: {error}") from error
    if not isinstance(document, Mapping) or "extends" not in document:
        return document
    parent_path = path.parent / f"{document['extends']}.yaml"
    if parent_path in seen or parent_path == path:
        raise GrammarError(f"{path}: `extends` goes round in a circle")
    parent = read_grammar_document(parent_path, (*seen, path))
    if not isinstance(parent, Mapping):
        raise GrammarError(f"{parent_path}: a grammar is a mapping")
    return extended(parent, document, str(path))


def extended(parent: Mapping[str, Any], child: Mapping[str, Any], source: str) -> dict[str, Any]:
    merged = {key: value for key, value in parent.items()}
    merged.update(
        {key: value for key, value in child.items() if key not in ("extends", "phrases", "intents", "slot_types")}
    )
    phrases = dict(_mapping(parent.get("phrases"), f"{source}: phrases"))
    for name, items in _mapping(child.get("phrases"), f"{source}: phrases").items():
        phrases[name] = [*_strings(phrases.get(name), name), *_strings(items, name)]
    merged["phrases"] = phrases
    intents = {name: dict(body) for name, body in _mapping(parent.get("intents"), f"{source}: intents").items()}
    for name, body in _mapping(child.get("intents"), f"{source}: intents").items():
        base = intents.setdefault(name, {})
        base.update({key: value for key, value in _mapping(body, name).items() if key != "samples"})
        base["samples"] = [*_strings(base.get("samples"), name), *_strings(_mapping(body, name).get("samples"), name)]
    merged["intents"] = intents
    types = {name: list(values) for name, values in _mapping(parent.get("slot_types"), f"{source}: slot_types").items()}
    for name, values in _mapping(child.get("slot_types"), f"{source}: slot_types").items():
        types.setdefault(name, []).extend(values if isinstance(values, list) else [])
    merged["slot_types"] = types
    return merged


def grammar_from_dict(document: Any, *, source: str = "grammar") -> Grammar:
    if not isinstance(document, Mapping):
        raise GrammarError(f"{source}: a grammar is a mapping")
    invocation_name = document.get("invocation_name")
    if not isinstance(invocation_name, str):
        raise GrammarError(f"{source}: invocation_name is missing")
    cap = document.get("template_cap", DEFAULT_TEMPLATE_CAP)
    if not isinstance(cap, int) or cap < 1:
        raise GrammarError(f"{source}: template_cap must be a positive integer")
    raw_lists = _mapping(document.get("phrases", {}), f"{source}: phrases")
    rules = {name: _parse(_alternatives(_strings(items, f"phrase list {name}")), f"phrase list {name}")
             for name, items in raw_lists.items()}  # fmt: skip
    phrase_lists = {name: tuple(sorted(_expand_rule(name, rules))) for name in rules}
    return Grammar(
        invocation_name=invocation_name,
        fallback_sensitivity=str(document.get("fallback_sensitivity", FALLBACK_SENSITIVITY)),
        template_cap=cap,
        phrase_lists=MappingProxyType(phrase_lists),
        slot_types=MappingProxyType(_slot_types(document.get("slot_types", {}), source)),
        intents=tuple(_intents(document.get("intents"), source)),
        _rules=MappingProxyType(rules),
    )


# --- parsing helpers --------------------------------------------------------------------------------


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise GrammarError(f"{where} must be a mapping with string keys")
    return value


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise GrammarError(f"{where} must be a list of non-empty strings")
    return value


def _alternatives(items: Iterable[str]) -> str:
    return "(" + "|".join(f"({item})" for item in items) + ")"


def _parse(template: str, where: str) -> Sentence:
    if _RESERVED.search(template):
        raise GrammarError(f"{where}: {template!r} uses ';' or '\\', which the grammar reserves")
    try:
        return parse_sentence(template)
    except (ParseError, IndexError, ValueError) as error:
        raise GrammarError(f"{where}: cannot parse {template!r}: {error}") from error


def _expand(template: str, rules: Mapping[str, Sentence]) -> set[str]:
    sentence = _parse(template, "template")
    try:
        expanded = sample_expression(sentence.expression, {}, dict(rules), expand_lists=False)
        return {" ".join(text.split()) for text in expanded} - {""}
    except MissingRuleError as error:
        raise GrammarError(f"template {template!r}: {error}") from error
    except RecursionError as error:
        raise GrammarError(f"template {template!r}: a phrase list refers to itself") from error


def _expand_rule(name: str, rules: Mapping[str, Sentence]) -> set[str]:
    return _expand(f"<{name}>", rules)


def _capped(sentences: Iterable[str], cap: int) -> tuple[str, ...]:
    """Above the cap: the shortest half (the template's core forms, optional words left out), then an evenly
    spaced pick from the rest in sorted order (the variety); the result sorted."""
    ordered = sorted(set(sentences))
    if len(ordered) <= cap:
        return tuple(ordered)
    core = sorted(ordered, key=lambda sentence: (len(sentence.split()), sentence))[: cap // 2]
    chosen = set(core)
    rest = [sentence for sentence in ordered if sentence not in chosen]
    wanted = cap - len(core)
    step = len(rest) / wanted
    chosen.update(rest[int(i * step)] for i in range(wanted))
    return tuple(sorted(chosen))


def _slot_types(raw: Any, source: str) -> dict[str, tuple[SlotTypeValue, ...]]:
    types = {}
    for name, values in _mapping(raw, f"{source}: slot_types").items():
        if not isinstance(values, list):
            raise GrammarError(f"{source}: slot type {name} must be a list of values")
        parsed = []
        for value in values:
            if not isinstance(value, Mapping) or not isinstance(value.get("value"), str):
                raise GrammarError(f"{source}: slot type {name}: each value needs a 'value'")
            synonyms = tuple(_strings(value.get("synonyms"), f"slot type {name} value {value['value']!r} synonyms"))
            parsed.append(SlotTypeValue(str(value.get("id") or value["value"]), value["value"], synonyms))
        types[name] = tuple(parsed)
    return types


def _intents(raw: Any, source: str) -> Iterable[IntentGrammar]:
    names: set[str] = set()
    for name, body in _mapping(raw, f"{source}: intents").items():
        body = _mapping(body, f"{source}: intent {name}")
        slots = _mapping(body.get("slots"), f"{source}: intent {name} slots")
        if not all(isinstance(slot_type, str) for slot_type in slots.values()):
            raise GrammarError(f"{source}: intent {name}: each slot maps to its type name")
        intent = IntentGrammar(name, MappingProxyType(dict(slots)), tuple(_strings(body.get("samples"), name)))
        for each in (intent, *_siblings(intent, body.get("siblings"), source)):
            if each.name in names:
                raise GrammarError(f"{source}: intent {each.name} is defined twice")
            names.add(each.name)
            yield each


def _siblings(intent: IntentGrammar, raw: Any, source: str) -> Iterable[IntentGrammar]:
    """A catch-all's siblings: one intent per opening ("<words> {slot}") and per ending ("{slot} <words>").

    The words are known from the intent alone and can be put back around the slot's text (a device sends only
    the slot): the words a sentence starts or ends with that its answer may need. An entry is either plain
    words (one sample) or a family of words interchangeable for every answer, `{fever: [a temperature,
    temperature…]}` (one sample per word, the intent named after the key; what is put back is the family's
    first word in sorted order, skill.understanding.resolver.Resolver.free_text)."""
    if raw is None:
        return
    siblings = _mapping(raw, f"{source}: intent {intent.name} siblings")
    if len(intent.slots) != 1:
        raise GrammarError(f"{source}: intent {intent.name}: siblings need exactly one slot")
    slot = next(iter(intent.slots))
    stem = intent.name.removesuffix("Intent")
    for kind, label, shape in (("openings", "", "{words} {{{slot}}}"), ("endings", "End", "{{{slot}}} {words}")):
        for name_words, family in _sibling_entries(siblings.get(kind), f"{source}: {intent.name} siblings {kind}"):
            name = f"{stem}{label}{sibling_name(name_words)}Intent"
            yield IntentGrammar(name, intent.slots, tuple(shape.format(words=words, slot=slot) for words in family))


def _sibling_entries(raw: Any, where: str) -> Iterable[tuple[str, tuple[str, ...]]]:
    """(the words the intent is named after, every opening or ending of the intent)."""
    if raw is None:
        return
    if not isinstance(raw, list):
        raise GrammarError(f"{where} must be a list of words or word families")
    for entry in raw:
        if isinstance(entry, Mapping) and len(entry) == 1:
            key, members = next(iter(entry.items()))
            family = (key, *_strings(members, f"{where}: family {key!r}"))
        elif isinstance(entry, str):
            key, family = entry, (entry,)
        else:
            raise GrammarError(f"{where} must be a list of non-empty strings or one-key word families")
        for words in family:
            if not isinstance(words, str) or not words.strip():
                raise GrammarError(f"{where} must be a list of non-empty strings or one-key word families")
            if _SLOT_REFERENCE.search(words) or re.search(r"[()\[\]|<>]", words):
                raise GrammarError(f"{where}: sibling {words!r}: plain words only")
        yield key, family


def sibling_name(words: str) -> str:
    """ "what's" → "Whats", "is it normal" → "IsItNormal", "por qué" → "PorQue": ASCII letters only, as Alexa's
    intent names must be."""
    ascii_words = unicodedata.normalize("NFKD", words).encode("ascii", "ignore").decode()
    return "".join(word[:1].upper() + word[1:] for word in re.sub(r"[^A-Za-z ]", "", ascii_words).split())
