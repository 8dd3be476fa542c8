"""Utterance → intent and slots, from the interaction model's own sample utterances.

A stand-in for Alexa's language understanding, used by `letdown say` and the browser simulator. It is a
pure function of the model and the locale content (for the safety triggers):

1. red-flag words route to a safety intent first;
2. "open let down helper" is a launch; "ask let down helper to …" is stripped to "…";
3. an exact match of a sample template (slot placeholders filled by the slot type's values and synonyms,
   or by a spoken duration for AMAZON.DURATION), or of a common phrase for a built-in intent;
4. otherwise the best token-overlap score against every sample, with rare words counting more;
5. a low score is AMAZON.FallbackIntent.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from skill.conversation import safety
from skill.interaction_model import DURATION_TYPE, FALLBACK_INTENT, LAUNCH, LAUNCH_WORDS, IntentDef, InteractionModel
from skill.speech.content import LocaleContent
from skill.text import NUMBER_VALUES, spoken_form

log = logging.getLogger(__name__)

MIN_SCORE = 0.55
SEARCH_QUERY_TYPE = "AMAZON.SearchQuery"
# A sample template whose custom slot matched words outside the slot's values (Alexa passes those on).
LOOSE_SLOT_SCORE = 0.8
LOOSE_MIN_LITERAL_WORDS = 2
# Spanish puts "a" between the verb and the name: "pide a ayuda de bajada de leche un consejo".
LAUNCH_CONNECTORS = ("a",)
LINK_WORDS = ("to", "for", "about", "that", "if", "whether", "and")

# Common phrasings of Alexa's built-in intents (Alexa knows these without samples in the model).
BUILT_IN_PHRASES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "AMAZON.HelpIntent": ("help", "help me", "what can i say", "what can you do", "how does this work",
                              "what do i say", "i need help", "help please"),
        "AMAZON.StopIntent": ("stop", "stop it", "stop please", "quit", "exit", "shut up", "be quiet",
                              "off", "thats enough", "enough", "goodbye", "bye", "stop talking", "im done"),
        "AMAZON.CancelIntent": ("cancel", "cancel that", "never mind", "nevermind", "forget it"),
        "AMAZON.PauseIntent": ("pause", "pause it", "pause that", "pause please", "hold on", "wait",
                               "pause the audio", "pause the music", "pause the track"),
        "AMAZON.ResumeIntent": ("resume", "continue", "keep going", "carry on", "unpause", "resume playing",
                                "resume the track", "play again", "go on"),
        "AMAZON.NextIntent": ("next", "skip", "next track", "skip this", "next one", "skip it", "play next"),
        "AMAZON.PreviousIntent": ("previous", "go back", "back", "previous track", "last track",
                                  "previous one"),
        "AMAZON.RepeatIntent": ("repeat", "repeat that", "say that again", "what did you say", "come again",
                                "again", "pardon", "say it again", "repeat please", "sorry what"),
        "AMAZON.YesIntent": ("yes", "yeah", "yep", "yup", "sure", "ok", "okay", "yes please", "please",
                             "sounds good", "go ahead", "alright", "all right", "of course", "definitely",
                             "sure thing", "ok sure", "yes thanks", "yes thank you"),
        "AMAZON.NoIntent": ("no", "nope", "no thanks", "no thank you", "not now", "nah", "not really",
                            "no not now", "maybe later", "not right now"),
        "AMAZON.StartOverIntent": ("start over", "restart", "start again", "from the beginning",
                                   "begin again", "start from the beginning", "start from the top"),
        "AMAZON.LoopOnIntent": ("loop", "loop on", "loop this", "turn on loop", "put it on repeat",
                                "repeat this track"),
        "AMAZON.LoopOffIntent": ("loop off", "stop looping", "turn off loop", "turn loop off"),
        "AMAZON.ShuffleOnIntent": ("shuffle", "shuffle on", "turn on shuffle", "shuffle the tracks"),
        "AMAZON.ShuffleOffIntent": ("shuffle off", "stop shuffling", "turn off shuffle"),
        "AMAZON.NavigateHomeIntent": ("go home", "home", "main menu", "go to the main menu",
                                      "take me home", "back to the start"),
    }
)  # fmt: skip

_UNIT_SECONDS = {"second": 1, "seconds": 1, "sec": 1, "secs": 1, "minute": 60, "minutes": 60, "min": 60,
                 "mins": 60, "hour": 3600, "hours": 3600}  # fmt: skip
_NUMBER_WORD = "(?:" + "|".join(sorted(NUMBER_VALUES, key=len, reverse=True)) + ")"
_NUMBER = rf"(?:\d+|{_NUMBER_WORD}(?: {_NUMBER_WORD})?)"  # digits: numbers too long to spell out
_UNIT = "(?:" + "|".join(sorted(_UNIT_SECONDS, key=len, reverse=True)) + ")"
DURATION_PATTERN = (
    rf"(?:{_NUMBER} {_UNIT}(?: and a half)?|half (?:a|an) (?:minute|hour)|a (?:minute|hour) and a half"
    rf"|a couple of {_UNIT}|a few {_UNIT})"
)


def spoken_duration_iso(spoken: str) -> str | None:
    """A spoken duration ("ten minutes", "a minute and a half", "90 seconds") as ISO 8601 (PT10M)."""
    text = spoken_form(spoken)
    if not re.fullmatch(DURATION_PATTERN, text):
        return None
    if text.startswith("half a"):
        seconds = _UNIT_SECONDS[text.split()[-1]] // 2
    else:
        words = text.split()
        half = text.endswith("and a half")
        if half:
            words = words[:-3]
        unit = _UNIT_SECONDS[words[-1]]
        amount_words = words[:-1]
        if amount_words[:2] == ["a", "couple"]:
            amount = 2
        elif amount_words[:2] == ["a", "few"]:
            amount = 3
        else:
            amount = sum(int(word) if word.isdigit() else NUMBER_VALUES[word] for word in amount_words)
        seconds = amount * unit + (unit // 2 if half else 0)
    return iso_duration(seconds)


def iso_duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + (f"{secs}S" if secs else "")
    return "PT" + (parts or "0S")


@dataclass(frozen=True)
class Resolution:
    intent: str
    slots: Mapping[str, Mapping[str, str | None]]  # slot name → {"value": spoken or ISO, "id": value id}
    score: float


@dataclass(frozen=True)
class _Template:
    intent: str
    pattern: re.Pattern[str] | None  # None for a sample without slots: matched by its words (`literal`)
    literal: str
    # One custom slot: `pattern` captures any words there, which must then be one of these phrases (the same
    # as spelling the phrases out in the regex, which made thousands of samples slow to compile).
    slot_phrases: frozenset[str] | None
    slot_names: tuple[str, ...]
    tokens: tuple[str, ...]  # words of the sample, slots as "{slot}"
    loose: re.Pattern[str] | None  # custom slots as any words; None when too few literal words


class Resolver:
    """Resolves typed or spoken utterances against one interaction model and one locale's content."""

    def __init__(self, model: InteractionModel, content: LocaleContent | None = None) -> None:
        self.model = model
        self.content = content
        self._type_phrases: dict[str, frozenset[str]] = {}
        self._templates = tuple(self._compile_templates())
        # Thousands of generated samples: those without slots are found by their words, not by a regex each.
        self._literals: dict[str, int] = {}
        for index, template in enumerate(self._templates):
            if template.pattern is None:
                self._literals.setdefault(template.literal, index)
        self._weights = self._token_weights()

    @classmethod
    def from_model(cls, path: Path, content: LocaleContent | None = None) -> Resolver:
        return cls(InteractionModel.load(path), content)

    def resolve(self, utterance: str) -> Resolution:
        text = self._strip_invocation(spoken_form(utterance))
        if text is None:
            return Resolution(LAUNCH, {}, 1.0)
        route = safety.red_flag_route([text], self.content) if self.content is not None else None
        if route is not None and safety.ROUTE_INTENTS[route] in self.model.intents:
            return Resolution(safety.ROUTE_INTENTS[route], {}, 1.0)
        exact = self._exact_match(text)
        if exact is not None:
            return exact
        overlap = self._best_overlap(text)
        loose = self._loose_match(text)
        if loose is not None and loose.score > overlap.score:
            return loose
        return overlap

    # --- invocation phrases ------------------------------------------------------------------

    def _strip_invocation(self, text: str) -> str | None:
        """Drop "alexa" and "ask <invocation name> to"; None means the utterance only opens the skill."""
        words = text.split()
        if words[:1] == ["alexa"]:
            words = words[1:]
        invocation = spoken_form(self.model.invocation_name).split()
        for start in (0, 1, 2):
            if (
                invocation
                and words[start : start + len(invocation)] == invocation
                and (start == 0 or words[0] in LAUNCH_WORDS)
                and all(word in LAUNCH_CONNECTORS for word in words[1:start])
            ):
                rest = words[start + len(invocation) :]
                if rest[:1] and rest[0] in LINK_WORDS:  # "ask let down helper to" alone opens the skill
                    rest = rest[1:]
                return " ".join(rest) or None
        return " ".join(words)

    # --- exact templates -----------------------------------------------------------------------

    def _compile_templates(self) -> Iterable[_Template]:
        for intent in self.model.intents.values():
            if SEARCH_QUERY_TYPE in intent.slots.values():
                continue  # a free-text catch-all's carriers ("I feel {query}") would swallow every sentence
            for sample in intent.samples:
                yield self._template(intent, sample)
            for phrase in BUILT_IN_PHRASES.get(intent.name, ()):
                yield self._template(intent, phrase)

    def _template(self, intent: IntentDef, sample: str) -> _Template:
        parts = re.split(r"(\{\w+\})", sample)
        strict, loose, slot_names, tokens = [], [], [], []
        slot_types = [intent.slots.get(part[1:-1], "") for part in parts if part.startswith("{") and part.endswith("}")]
        one_listed_slot = len(slot_types) == 1 and slot_types[0] != DURATION_TYPE and self._phrases(slot_types[0])
        for part in parts:
            if part.startswith("{") and part.endswith("}"):
                name = part[1:-1]
                slot_type = intent.slots.get(name, "")
                slot_names.append(name)
                strict.append(f"(?P<{name}>.+?)" if one_listed_slot else f"(?P<{name}>{self._slot_pattern(slot_type)})")
                open_pattern = self._slot_pattern(slot_type) if slot_type == DURATION_TYPE else r"[\w ]+?"
                loose.append(f"(?P<{name}>{open_pattern})")
                tokens.append(part)
            elif spoken_form(part):
                strict.append(re.escape(spoken_form(part)))
                loose.append(re.escape(spoken_form(part)))
                tokens.extend(spoken_form(part).split())
        literal_words = len(tokens) - len(slot_names)
        return _Template(
            intent.name,
            re.compile(" ".join(strict)) if slot_names else None,
            "" if slot_names else " ".join(tokens),
            self._phrases(slot_types[0]) if one_listed_slot else None,
            tuple(slot_names),
            tuple(tokens),
            re.compile(" ".join(loose)) if slot_names and literal_words >= LOOSE_MIN_LITERAL_WORDS else None,
        )

    def _phrases(self, slot_type: str) -> frozenset[str]:
        if slot_type not in self._type_phrases:
            spoken = {spoken_form(p) for value in self.model.types.get(slot_type, ()) for p in value.phrases()}
            self._type_phrases[slot_type] = frozenset(spoken - {""})
        return self._type_phrases[slot_type]

    def _slot_pattern(self, slot_type: str) -> str:
        if slot_type == DURATION_TYPE:
            return DURATION_PATTERN
        phrases = self._phrases(slot_type)
        if not phrases:
            return r"[\w ]+?"
        return "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))

    def _exact_match(self, text: str) -> Resolution | None:
        """The first template (in model order) matching exactly, whether a literal sample or one with slots."""
        literal = self._literals.get(text)
        before = self._templates if literal is None else self._templates[:literal]
        found = self._first_match(text, lambda template: template.pattern, 1.0, before, check_phrases=True)
        if found is not None or literal is None:
            return found
        intent = self._templates[literal].intent
        return Resolution(intent, self._with_empty_slots(intent, {}), 1.0)

    def _loose_match(self, text: str) -> Resolution | None:
        return self._first_match(text, lambda template: template.loose, LOOSE_SLOT_SCORE)

    def _first_match(
        self,
        text: str,
        pattern_of: Callable[[_Template], re.Pattern[str] | None],
        score: float,
        templates: Iterable[_Template] | None = None,
        *,
        check_phrases: bool = False,
    ) -> Resolution | None:
        for template in self._templates if templates is None else templates:
            pattern = pattern_of(template)
            match = pattern.fullmatch(text) if pattern is not None else None
            if match is not None and check_phrases and template.slot_phrases is not None:
                match = match if match.group(template.slot_names[0]) in template.slot_phrases else None
            if match is not None:
                slots = {name: self._slot(template.intent, name, match.group(name)) for name in template.slot_names}
                return Resolution(template.intent, self._with_empty_slots(template.intent, slots), score)
        return None

    def _slot(self, intent: str, slot_name: str, spoken: str) -> dict[str, str | None]:
        slot_type = self.model.intents[intent].slots.get(slot_name, "")
        if slot_type == DURATION_TYPE:
            return {"value": spoken_duration_iso(spoken), "id": None}
        return {"value": spoken, "id": self.model.value_id(slot_type, spoken)}

    def _with_empty_slots(self, intent: str, found: Mapping[str, Mapping[str, str | None]]) -> dict:
        return {name: dict(found.get(name, {"value": None, "id": None})) for name in self.model.intents[intent].slots}

    # --- fuzzy overlap ---------------------------------------------------------------------------

    def _token_weights(self) -> dict[str, float]:
        """Inverse document frequency of each word over all samples: rare words tell intents apart."""
        documents = Counter(token for template in self._templates for token in set(template.tokens))
        total = max(len(self._templates), 1)
        return {token: math.log(1 + total / count) for token, count in documents.items()}

    def _weight(self, token: str) -> float:
        return self._weights.get(token, math.log(1 + max(len(self._templates), 1)))

    def _best_overlap(self, text: str) -> Resolution:
        words = text.split()
        best: tuple[float, _Template | None, dict] = (0.0, None, {})
        for template in self._templates:
            tokens, slots = self._fill_slots(template, words)
            score = self._dice(tokens, template.tokens)
            if score > best[0]:
                best = (score, template, slots)
        score, best_template, slots = best
        if best_template is None or score < MIN_SCORE or best_template.intent not in self.model.intents:
            return Resolution(FALLBACK_INTENT, {}, round(score, 3))
        return Resolution(best_template.intent, self._with_empty_slots(best_template.intent, slots), round(score, 3))

    def _fill_slots(self, template: _Template, words: list[str]) -> tuple[list[str], dict]:
        """Replace slot values found anywhere in the utterance by their placeholder token."""
        text = " ".join(words)
        slots = {}
        for name in template.slot_names:
            slot_type = self.model.intents[template.intent].slots.get(name, "")
            pattern = self._slot_pattern(slot_type)
            if slot_type not in self.model.types and slot_type != DURATION_TYPE:
                continue
            match = re.search(rf"(?:^|\s)(?P<v>{pattern})(?=\s|$)", text)
            if match is not None:
                slots[name] = self._slot(template.intent, name, match.group("v"))
                text = text[: match.start("v")] + "{" + name + "}" + text[match.end("v") :]
        return text.split(), slots

    def _dice(self, tokens: list[str], sample: tuple[str, ...]) -> float:
        """Weighted Dice coefficient of the two bags of words."""
        mine, theirs = Counter(tokens), Counter(sample)
        common = sum(self._weight(t) * min(n, theirs[t]) for t, n in mine.items() if t in theirs)
        size = self._mass(mine) + self._mass(theirs)
        return 2 * common / size if size else 0.0

    def _mass(self, bag: Counter[str]) -> float:
        return sum(self._weight(token) * count for token, count in bag.items())
