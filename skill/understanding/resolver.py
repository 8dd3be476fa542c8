"""Utterance → intent and slots, from the interaction model's own samples: the skill's language understanding.

One resolver serves the request path (the free-text intent's second stage, `understand`) and the tools
(`letdown say`, `letdown chat`, the simulator: `resolve`), so what the tools show is what a device does.

`resolve` (a whole utterance, as a device hears it): "open let down helper" is a launch; "ask let down helper
to …" is stripped to "…", which `understand` resolves: the answer is the one a device gets when it sends the
words in the free-text intent (tests/understanding/test_free_text.py checks both paths agree).

`understand` (the second stage, for free text): safety words route to a safety intent first
(skill.understanding.safety); then an exact match of a sample template (slot placeholders filled by the slot
type's values and synonyms, or by a spoken duration for AMAZON.DURATION) or of a common phrase for a built-in
intent; then the best fuzzy match over every sample (idioms read as their plain words: "dying for a coffee"),
accepted above a threshold calibrated on a development set (tests/understanding/dev_utterances.yaml) and, for
text that looks like safety, only at high confidence; else, for typed text in clauses, the clause understood
best; else AMAZON.FallbackIntent.

The fuzzy match uses rapidfuzz (a maintained C++ string-matching library): its token-set and token-sort
ratios over normalised, stemmed, synonym-folded words tolerate word order, extra words and misspellings,
cost microseconds per comparison and need no model weights, which an embedding would for little gain on
short, domain-bound requests within a 2 ms budget.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from skill.conversation.safety import ROUTE_INTENTS, SAFETY_INTENTS
from skill.interaction_model import DURATION_TYPE, FALLBACK_INTENT, LAUNCH, LAUNCH_WORDS, IntentDef, InteractionModel
from skill.speech.content import LocaleContent
from skill.text import spoken_form
from skill.understanding.durations import DURATION_WORDS, duration_words
from skill.understanding.matcher import SampleMatcher
from skill.understanding.normalise import FILLERS, Normaliser
from skill.understanding.safety import SafetyLexicon

log = logging.getLogger(__name__)

FREE_TEXT_INTENT = "FreeTextIntent"
FREE_TEXT_PREFIX = "FreeText"  # sibling catch-alls are named FreeText…Intent
FREE_TEXT_SLOT = "query"
SEARCH_QUERY_TYPE = "AMAZON.SearchQuery"
# Fuzzy scores are 0..1. Calibrated on tests/understanding/dev_utterances.yaml (bench/bench_resolver.py
# --calibrate prints accuracy by threshold): the lowest score at which a match is taken.
ACCEPT_SCORE = 0.5
# A text with safety-looking words that no safety entry matched is sent to a non-safety answer only when
# the match is this strong; otherwise it gets the fallback, whose speech ends with the safety line.
SENSITIVE_ACCEPT_SCORE = 0.75
# Answers that speak to feelings and carry a support line themselves: a sensitive text may reach them at
# the ordinary threshold (a wave of sadness at the let-down is D-MER).
SUPPORTIVE_INTENTS = frozenset({"DmerIntent", "DmerCopingIntent", "ReassuranceIntent"})
# A sample template whose custom slot matched words outside the slot's values (Alexa passes those on):
# "tips for when feeding hurts" fits "tips for {topic}" but names no topic, so a good fuzzy match to a tip's
# own samples beats it. Calibrated on the development sets (0.8, 0.7, 0.6: 0.6 was best on all three).
LOOSE_SLOT_SCORE = 0.6
LOOSE_MIN_LITERAL_WORDS = 2
# Besides the one-word launch verbs ("ask", "open"…): "talk to let down helper".
LAUNCH_PHRASES = ("open up", "talk to", "speak to")
# Spanish puts "a" between the verb and the name: "pide a ayuda de bajada de leche un consejo".
LAUNCH_CONNECTORS = ("a",)
# Where typed text breaks into clauses (speech recognition writes none of these).
CLAUSE_BREAK = re.compile(r"[,;.!?]+|\s[-–—]\s")
LINK_WORDS = ("to", "for", "about", "that", "if", "whether", "and")
INTERJECTIONS = frozenset({"okay", "ok", "alright", "wait", "shh", "ugh", "yeah", "hey", "sorry", "oops"})

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


def spoken_duration_iso(spoken: str) -> str | None:
    """An English spoken duration ("ten minutes", "a minute and a half", "90 seconds") as ISO 8601 (PT10M)."""
    return DURATION_WORDS["en"].iso(spoken)


@dataclass(frozen=True)
class Resolution:
    intent: str
    slots: Mapping[str, Mapping[str, str | None]]  # slot name → {"value": spoken or ISO, "id": value id}
    score: float
    route: str | None = None  # the safety route, when safety decided


@dataclass(frozen=True)
class _Template:
    intent: str
    pattern: re.Pattern[str]  # the sample's words, each slot as any words
    slot_names: tuple[str, ...]
    loose: bool  # may match with slot words outside the slot's values (enough literal words around them)
    words: frozenset[str]  # the literal words: a text without all of them cannot match


@dataclass(frozen=True)
class _SlotFinder:
    slot_type: str
    placeholder: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class _FuzzyIndex:
    matcher: SampleMatcher
    intents: tuple[str, ...]
    finders: tuple[_SlotFinder, ...] = field(default=())
    safety_samples: frozenset[int] = frozenset()  # indexes of the safety intents' samples


def is_free_text_intent(name: str | None) -> bool:
    return bool(name) and name.startswith(FREE_TEXT_PREFIX) and name.endswith("Intent")  # type: ignore[union-attr]


def carries_more(loose: Resolution, fuzzy: Resolution) -> bool:
    """The same intent, and only the loose match has the slot's words (Alexa passes words it cannot resolve)."""
    return loose.intent == fuzzy.intent and not any(slot.get("value") for slot in fuzzy.slots.values())


def without_interjections(spoken: str) -> str:
    """The words after a sentence's opening interjections ("okay stop" → "stop", "wait pause" → "pause"); kept
    apart from FILLERS because alone they are answers ("okay" is yes)."""
    words = spoken.split()
    while len(words) > 1 and words[0] in INTERJECTIONS:
        words = words[1:]
    return " ".join(words)


def shared_start(word_lists: list[list[str]]) -> list[str]:
    """The words every list starts with."""
    shared = []
    for column in zip(*word_lists, strict=False):
        if len(set(column)) != 1:
            break
        shared.append(column[0])
    return shared


def slot_placeholder(slot_type: str) -> str:
    return "zz" + re.sub(r"[^a-z]", "", slot_type.lower())


class Resolver:
    """Resolves typed or spoken utterances against one interaction model and one locale's content.

    Built once per process (SkillDeps holds one per locale); `resolve` and `understand` are pure."""

    def __init__(
        self,
        model: InteractionModel,
        content: LocaleContent | None = None,
        phrase_lists: Iterable[Iterable[str]] = (),
        accept_score: float = ACCEPT_SCORE,
        build_memo: MutableMapping[str, str] | None = None,
    ) -> None:
        """`build_memo`: normal forms of sample texts, shared by the resolvers one catalog builds (the English
        locales share most samples); used while building only, never for what users say."""
        self.model = model
        self.accept_score = accept_score
        self.content = content
        self.safety = SafetyLexicon.from_content(content) if content is not None else SafetyLexicon((), (), None)
        self.normaliser = Normaliser(phrase_lists)
        self.durations = duration_words(content.locale if content is not None else None)
        self._phrases = self._compile_phrases()
        self._values = self._slot_values()
        self._templates = tuple(self._compile_templates())
        self._invocation = self._invocation_pattern()
        self._index = self._fuzzy_index({} if build_memo is None else build_memo)
        self._frames = MappingProxyType(dict(self._free_text_frames()))

    @classmethod
    def from_model(
        cls, path: Path, content: LocaleContent | None = None, phrase_lists: Iterable[Iterable[str]] = ()
    ) -> Resolver:
        return cls(InteractionModel.load(path), content, phrase_lists)

    def free_text(self, intent_name: str | None, query: str) -> str:
        """What was said, as near as the request tells: a free-text intent's slot text inside the words that
        all its samples put around the slot ("why {query}" → "why " + query; a device sends only the slot). A
        sibling whose samples are a family of interchangeable words ("a fever {query}", "temperature {query}")
        gets its first sample's words back."""
        opening, ending = self._frames.get(intent_name or "", ("", ""))
        return " ".join(part for part in (opening, query.strip(), ending) if part)

    def _free_text_frames(self) -> Iterable[tuple[str, tuple[str, str]]]:
        for intent in self.model.intents.values():
            slots = [name for name, slot_type in intent.slots.items() if slot_type == SEARCH_QUERY_TYPE]
            if len(slots) != 1 or not intent.samples:
                continue
            marker = "{" + slots[0] + "}"
            halves = [sample.split(marker, 1) for sample in intent.samples if marker in sample]
            if intent.name != FREE_TEXT_INTENT and len({(b.strip(), a.strip()) for b, a in halves}) > 1:
                halves = halves[:1]  # a sibling's family of words: the first stands for them all
            opening = shared_start([before.split() for before, _ in halves])
            ending = shared_start([after.split()[::-1] for _, after in halves])[::-1]
            yield intent.name, (" ".join(opening), " ".join(ending))

    def resolve(self, utterance: str) -> Resolution:
        """A whole utterance as a device would turn it into a request (see the module docstring)."""
        text = self._strip_invocation(utterance)
        if text is None:
            return Resolution(LAUNCH, {}, 1.0)
        return self.understand(text)

    def understand(self, text: str) -> Resolution:
        """The second stage: free text → a safety route, a content intent, or AMAZON.FallbackIntent.

        A typed sentence that fits nothing as a whole may still say one thing in one of its clauses ("okay
        false alarm, carry on with the sounds"): then the clause understood best answers."""
        understood = self._understand_whole(text)
        if understood.intent != FALLBACK_INTENT:
            return understood
        clauses = CLAUSE_BREAK.split(text)
        if len(clauses) < 2:
            return understood
        heard = [self._understand_whole(clause) for clause in clauses if spoken_form(clause)]
        routed = [resolution for resolution in heard if resolution.route is not None]
        answered = routed or [resolution for resolution in heard if resolution.intent != FALLBACK_INTENT]
        return max(answered, key=lambda resolution: resolution.score, default=understood)

    def _understand_whole(self, text: str) -> Resolution:
        route = self.safety.route([text])
        if route is not None:
            return Resolution(ROUTE_INTENTS[route], {}, 1.0, route=route)
        exact = self._exact(text)
        if exact is not None:
            return exact
        plain = without_interjections(spoken_form(self.safety.plain_meaning(text)))  # idioms: their plain words
        best = self._fuzzy(plain)
        if best is not None and best.intent in SAFETY_INTENTS and self.safety.cleared(text):
            # the lexicon read these words and its own context rule cleared them ("hopeless at pumping")
            best = self._fuzzy(plain, safety=False)
        loose = self._loose_match(spoken_form(text))
        if loose is not None and (best is None or loose.score > best.score or carries_more(loose, best)):
            best = loose
        if best is None or best.score < self.accept_score:
            return Resolution(FALLBACK_INTENT, {}, round(best.score, 3) if best else 0.0)
        if best.intent in SAFETY_INTENTS:  # close to a safety intent's own samples: that route
            return Resolution(best.intent, best.slots, best.score, route=SAFETY_INTENTS[best.intent])
        if (
            best.intent not in SAFETY_INTENTS
            and best.intent not in SUPPORTIVE_INTENTS
            and best.score < SENSITIVE_ACCEPT_SCORE
            and self.safety.looks_sensitive(text)
        ):
            return Resolution(FALLBACK_INTENT, {}, best.score)
        return best

    def _exact(self, text: str) -> Resolution | None:
        spoken = spoken_form(text)
        plain = " ".join(word for word in spoken.split() if word not in FILLERS)
        for candidate in dict.fromkeys((spoken, plain, without_interjections(plain))):
            exact = self._exact_match(candidate) if candidate else None
            if exact is not None:
                return exact
        return None

    # --- invocation phrases ------------------------------------------------------------------

    def _invocation_pattern(self) -> re.Pattern[str] | None:
        words = spoken_form(self.model.invocation_name).split()
        if not words:
            return None
        name = r"[\W_]*".join(re.escape(word) for word in words)
        launch = "|".join(sorted({*LAUNCH_WORDS, *LAUNCH_PHRASES}, key=len, reverse=True))
        link = "|".join(LINK_WORDS)
        connector = "|".join(LAUNCH_CONNECTORS)
        return re.compile(
            rf"^[\W_]*(?:alexa\b[\W_]*)?(?:(?:{launch})\b[\W_]*(?:(?:{connector})\b[\W_]*)?)?(?:the\b[\W_]*)?{name}\b"
            rf"[\W_]*(?:skill\b[\W_]*)?(?:(?:{link})\b)?",
            re.I,
        )

    def _strip_invocation(self, utterance: str) -> str | None:
        """Drop "alexa" and "ask <invocation name> to"; None means the utterance only opens the skill.

        The rest keeps its own spelling (apostrophes included) for the safety lexicon."""
        match = self._invocation.match(utterance) if self._invocation is not None else None
        if match is not None:
            rest = utterance[match.end() :].strip()
            return rest if spoken_form(rest) else None
        return re.sub(r"^[\W_]*alexa\b[\W_]*", "", utterance, flags=re.I).strip()

    # --- exact templates -----------------------------------------------------------------------

    def _exact_samples(self) -> Iterable[tuple[IntentDef, str]]:
        for intent in self.model.intents.values():
            if SEARCH_QUERY_TYPE in intent.slots.values():
                continue  # a free-text catch-all's carriers ("I feel {query}") would swallow every sentence
            for sample in (*intent.samples, *BUILT_IN_PHRASES.get(intent.name, ())):
                yield intent, sample

    def _compile_phrases(self) -> Mapping[str, str]:
        """Samples without slots, by their spoken form: an exact match is a lookup (first intent wins)."""
        phrases: dict[str, str] = {}
        for intent, sample in self._exact_samples():
            if "{" not in sample:
                phrases.setdefault(spoken_form(sample), intent.name)
        return MappingProxyType(phrases)

    def _compile_templates(self) -> Iterable[_Template]:
        """Samples with slots, as regular expressions (strict: the slot's values; loose: any words)."""
        for intent, sample in self._exact_samples():
            if "{" in sample:
                yield self._template(intent, sample)

    def _template(self, intent: IntentDef, sample: str) -> _Template:
        """One pattern per sample, slots as any words; a strict match then checks each slot's value."""
        parts = re.split(r"(\{\w+\})", sample)
        pattern, slot_names, words = [], [], []
        for part in parts:
            if part.startswith("{") and part.endswith("}"):
                slot_names.append(part[1:-1])
                pattern.append(f"(?P<{part[1:-1]}>[\\w ]+?)")
            elif spoken_form(part):
                pattern.append(re.escape(spoken_form(part)))
                words.extend(spoken_form(part).split())
        return _Template(
            intent.name,
            re.compile(" ".join(pattern)),
            tuple(slot_names),
            loose=bool(slot_names) and len(words) >= LOOSE_MIN_LITERAL_WORDS,
            words=frozenset(words),
        )

    def _slot_values(self) -> Mapping[str, frozenset[str]]:
        return MappingProxyType(
            {
                name: frozenset(spoken_form(p) for value in values for p in value.phrases())
                for name, values in self.model.types.items()
            }
        )

    def _valid_value(self, intent: str, slot_name: str, spoken: str) -> bool:
        slot_type = self.model.intents[intent].slots.get(slot_name, "")
        if slot_type == DURATION_TYPE:
            return self.durations.iso(spoken) is not None
        values = self._values.get(slot_type)
        return values is None or not values or spoken in values

    def _exact_match(self, text: str) -> Resolution | None:
        intent = self._phrases.get(text)
        if intent is not None:
            return Resolution(intent, self._with_empty_slots(intent, {}), 1.0)
        return self._first_match(text, strict=True)

    def _loose_match(self, text: str) -> Resolution | None:
        return self._first_match(text, strict=False)

    def _first_match(self, text: str, *, strict: bool) -> Resolution | None:
        text_words = frozenset(text.split())
        for template in self._templates:
            if (not strict and not template.loose) or not template.words <= text_words:
                continue
            match = template.pattern.fullmatch(text)
            if match is None:
                continue
            values = {name: match.group(name) for name in template.slot_names}
            if strict and not all(self._valid_value(template.intent, n, v) for n, v in values.items()):
                continue
            slots = {name: self._slot(template.intent, name, spoken) for name, spoken in values.items()}
            return Resolution(
                template.intent, self._with_empty_slots(template.intent, slots), 1.0 if strict else LOOSE_SLOT_SCORE
            )
        return None

    def _slot(self, intent: str, slot_name: str, spoken: str) -> dict[str, str | None]:
        slot_type = self.model.intents[intent].slots.get(slot_name, "")
        if slot_type == DURATION_TYPE:
            return {"value": self.durations.iso(spoken), "id": None}
        return {"value": spoken, "id": self.model.value_id(slot_type, spoken)}

    def _with_empty_slots(self, intent: str, found: Mapping[str, Mapping[str, str | None]]) -> dict:
        return {name: dict(found.get(name, {"value": None, "id": None})) for name in self.model.intents[intent].slots}

    # --- fuzzy matching --------------------------------------------------------------------------

    def _fuzzy_targets(self, memo: MutableMapping[str, str]) -> Iterable[tuple[str, str]]:
        for intent in self.model.intents.values():
            if (
                intent.name == FALLBACK_INTENT
                or is_free_text_intent(intent.name)
                or SEARCH_QUERY_TYPE in intent.slots.values()
            ):
                continue
            for sample in (*intent.samples, *BUILT_IN_PHRASES.get(intent.name, ())):
                yield intent.name, self._sample_key(intent, sample, memo)

    def _sample_key(self, intent: IntentDef, sample: str, memo: MutableMapping[str, str]) -> str:
        def placeholder(match: re.Match[str]) -> str:
            return f" {slot_placeholder(intent.slots.get(match.group(1), ''))} "

        return self.normaliser.key(re.sub(r"\{(\w+)\}", placeholder, sample), memo)

    def _fuzzy_index(self, memo: MutableMapping[str, str]) -> _FuzzyIndex:
        seen: dict[str, str] = {}
        for intent, key in self._fuzzy_targets(memo):
            if key and key not in seen:
                seen[key] = intent
        finders = []
        slot_types = {t for intent in self.model.intents.values() for t in intent.slots.values()}
        for slot_type in sorted(slot_types):
            if slot_type == DURATION_TYPE:
                pattern = self.durations.pattern
            else:
                values = self.model.types.get(slot_type, ())
                phrases = {self.normaliser.canonical(phrase) for value in values for phrase in value.phrases()}
                phrases.discard("")
                if not phrases:
                    continue
                pattern = "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))
            finders.append(_SlotFinder(slot_type, slot_placeholder(slot_type), re.compile(rf"\b(?:{pattern})\b")))
        intents = tuple(seen.values())
        safety_samples = frozenset(index for index, intent in enumerate(intents) if intent in SAFETY_INTENTS)
        return _FuzzyIndex(SampleMatcher(tuple(seen)), intents, tuple(finders), safety_samples)

    def _query_variants(self, canonical: str) -> list[tuple[str, dict[str, str]]]:
        """The query's key, and one key per slot type whose value it names (the value → its placeholder)."""
        variants: list[tuple[str, dict[str, str]]] = [(self.normaliser.key_of_canonical(canonical), {})]
        for finder in self._index.finders:
            match = finder.pattern.search(canonical)
            if match is None:
                continue
            replaced = canonical[: match.start()] + f" {finder.placeholder} " + canonical[match.end() :]
            variants.append((self.normaliser.key_of_canonical(replaced), {finder.slot_type: match.group(0)}))
        return variants

    def _fuzzy(self, text: str, *, safety: bool = True) -> Resolution | None:
        """The best fuzzy match; `safety=False` leaves the safety intents' samples out."""
        canonical = self.normaliser.canonical(text)
        excluded = frozenset() if safety else self._index.safety_samples
        best: tuple[float, int, dict[str, str]] | None = None
        for key, slot_values in self._query_variants(canonical):
            match = self._index.matcher.best(key, excluded) if key else None
            if match is not None and (best is None or match.score > best[0]):
                best = (match.score, match.index, slot_values)
        if best is None:
            return None
        score, index, slot_values = best
        intent = self._index.intents[index]
        slots = {}
        for name, slot_type in self.model.intents[intent].slots.items():
            if slot_type in slot_values:
                slots[name] = self._slot(intent, name, slot_values[slot_type])
        return Resolution(intent, self._with_empty_slots(intent, slots), round(score, 3))
