"""`letdown model check`: the model against Alexa's rules (sources.md#alexa-interaction-model) and against the code.

Model rules: invocation name, sample characters (no digits), declared slots, samples unique across
intents after normalisation (`spoken_form`), at least 20 samples per custom intent
(a free-text catch-all needs only its carrier phrases), AMAZON.SearchQuery's
rules, Amazon's size limits, AMAZON.FallbackIntent and the AudioPlayer built-ins.
Grammar: the JSON is exactly what `letdown model build` makes from `grammar/<locale>.yaml`.
Code: the skill is built as the service builds it; every model intent must reach a handler (other than
the catch-all) that declares it in `intent_names`, and every intent a handler declares must be in the model.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ask_sdk_core.attributes_manager import AttributesManager
from ask_sdk_core.handler_input import HandlerInput
from ask_sdk_core.serialize import DefaultSerializer
from ask_sdk_model import RequestEnvelope

from skill.alexa.deps import SkillDeps
from skill.alexa.skill_builder import build_skill
from skill.config import DEFAULT_MODEL_DIR, Config
from skill.interaction_model import LAUNCH_WORDS
from skill.interaction_model_grammar import GrammarError, sample_key
from skill.storage import open_store
from skill.tools import envelopes
from skill.tools.model_build import add_build_parser, build_model_text, grammar_path
from skill.understanding.resolver import is_free_text_intent

MIN_SAMPLES_PER_CUSTOM_INTENT = 20
SEARCH_QUERY_TYPE = "AMAZON.SearchQuery"

# Amazon's size limits. Alexa's own "Interaction model limits" table (linked from
# https://developer.amazon.com/en-US/docs/alexa/custom-skills/create-intents-utterances-and-slots.html)
# could not be retrieved here; each figure below names the Amazon source it was taken from.
# The model document sent to Amazon's Skill Management API: "'modelDefinition' failed to satisfy
# constraint: Member must have length less than or equal to 1000000" (https://github.com/alexa/ask-cli/issues/9).
MAX_MODEL_CHARACTERS = 1_000_000
# "A skill can have a total of 50,000 custom slot values, totaled across all custom slots used in the
# interaction model" (Amazon's custom slot type documentation, quoted in
# https://github.com/emeth-/hackathon-kit-alexa); Amazon Lex V2 counts values and synonyms together against
# the same 50,000 (https://docs.aws.amazon.com/lexv2/latest/dg/quotas.html), and so do we.
MAX_SLOT_VALUES_AND_SYNONYMS = 50_000
# The developer console: "Slot value length exceeds the limit of 140 characters"
# (https://github.com/m0ngr31/kanzi/issues/263).
MAX_SLOT_VALUE_CHARACTERS = 140
# Amazon's published NLU build quotas for Lex V2, the service that shares Alexa's model format lineage:
# "Sample utterances per intent: 1,500", "Characters per sample utterance: 500"
# (https://docs.aws.amazon.com/lexv2/latest/dg/quotas.html). No separate total-sample limit is published
# there or found for Alexa; the total is bounded by MAX_MODEL_CHARACTERS.
MAX_SAMPLES_PER_INTENT = 1_500
# Lex V2 allows 1,000 intents per locale (same quotas page); no Alexa figure was found, so the check keeps to
# a quarter of that, which the free-text siblings (grammar: FreeTextIntent siblings) are sized to fit.
MAX_INTENTS = 250
MAX_SAMPLE_CHARACTERS = 500
WAKE_WORDS = frozenset({"alexa", "amazon", "echo", "computer"})
TWO_WORD_CONNECTORS = frozenset({"the", "a", "an", "for", "to", "of"})
REQUIRED_BUILT_INS = (
    "AMAZON.HelpIntent",
    "AMAZON.StopIntent",
    "AMAZON.CancelIntent",
    "AMAZON.FallbackIntent",
    "AMAZON.NavigateHomeIntent",
)
# AudioPlayer skills must support these (sources.md#alexa-audioplayer).
AUDIO_PLAYER_BUILT_INS = (
    "AMAZON.PauseIntent",
    "AMAZON.ResumeIntent",
    "AMAZON.CancelIntent",
    "AMAZON.LoopOnIntent",
    "AMAZON.LoopOffIntent",
    "AMAZON.NextIntent",
    "AMAZON.PreviousIntent",
    "AMAZON.RepeatIntent",
    "AMAZON.ShuffleOnIntent",
    "AMAZON.ShuffleOffIntent",
    "AMAZON.StartOverIntent",
)
FALLBACK_SENSITIVITIES = ("LOW", "MEDIUM", "HIGH")
# Letters of any alphabet the locales use (Spanish á, é, ñ ...), no digits or other punctuation.
_INVOCATION_CHARS = re.compile(r"^(?:[^\W\d_]|[ .'])+$")
_SAMPLE_CHARS = re.compile(r"^(?:[^\W\d_]|[ .'\-{}])+$")
_SLOT_REFERENCE = re.compile(r"\{([^{}]*)\}")
LOCALE_FILE = re.compile(r"[a-z]{2}-[A-Z]{2}")
_SLOT_NAME = re.compile(r"^[A-Za-z][A-Za-z_]*$")


@dataclass
class CheckReport:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


# --- the model against Alexa's rules --------------------------------------------------------------------


def invocation_name_problems(name: Any) -> list[str]:
    if not isinstance(name, str) or not name.strip():
        return ["invocationName is missing"]
    problems = []
    words = name.split()
    if name != name.strip() or "  " in name:
        problems.append(f"invocation name {name!r} has stray spaces")
    if not _INVOCATION_CHARS.match(name) or name != name.lower():
        problems.append(f"invocation name {name!r} may only use lowercase letters, spaces, periods, apostrophes")
    if len(words) < 2:
        problems.append(f"invocation name {name!r} must have at least two words")
    for word in words:
        if word in LAUNCH_WORDS:
            problems.append(f"invocation name {name!r} contains the launch word {word!r}")
        if word in WAKE_WORDS:
            problems.append(f"invocation name {name!r} contains the wake word {word!r}")
    if len(words) == 2 and TWO_WORD_CONNECTORS & set(words):
        problems.append(f"two-word invocation name {name!r} contains a connecting word")
    return problems


def search_query_problems(name: str, slots: Mapping[Any, Any], samples: list[Any]) -> list[str]:
    """AMAZON.SearchQuery: a carrier phrase in every sample (Alexa's build error MissingCarrierPhraseWithPhraseSlot,
    "Sample intent utterances with phrase types cannot consist of only slots", quoted in
    https://qiita.com/surumegohan/items/3315487a0cacf655a23d), one such slot per sample, and no other slot in the
    intent (Amazon's AMAZON.SearchQuery rules in the slot type reference)."""
    phrase_slots = {slot for slot, slot_type in slots.items() if slot_type == SEARCH_QUERY_TYPE}
    if not phrase_slots:
        return []
    problems = []
    if len(slots) > len(phrase_slots):
        problems.append(f"{name}: an intent with an {SEARCH_QUERY_TYPE} slot cannot have other slots")
    for sample in samples:
        if not isinstance(sample, str):
            continue
        used = [slot for slot in _SLOT_REFERENCE.findall(sample) if slot in phrase_slots]
        if len(used) > 1:
            problems.append(f"{name}: sample {sample!r} has more than one {SEARCH_QUERY_TYPE} slot")
        if used and not _SLOT_REFERENCE.sub("", sample).strip():
            problems.append(f"{name}: sample {sample!r} needs a carrier phrase around its {SEARCH_QUERY_TYPE} slot")
    return problems


def intent_problems(intent: Mapping[str, Any], types: set[str]) -> list[str]:
    name = intent.get("name", "?")
    problems = []
    slots = {slot.get("name"): slot.get("type") for slot in intent.get("slots", [])}
    for slot_name, slot_type in slots.items():
        if not isinstance(slot_name, str) or not _SLOT_NAME.match(slot_name):
            problems.append(f"{name}: slot name {slot_name!r} must be letters and underscores")
        if not isinstance(slot_type, str) or not (slot_type.startswith("AMAZON.") or slot_type in types):
            problems.append(f"{name}: slot {slot_name} has undefined type {slot_type!r}")
    samples = intent.get("samples", [])
    for sample in samples:
        if not isinstance(sample, str) or not sample.strip():
            problems.append(f"{name}: empty sample utterance")
            continue
        if re.search(r"\d", sample):
            problems.append(f"{name}: sample {sample!r} has digits (spell numbers out)")
        elif not _SAMPLE_CHARS.match(sample):
            problems.append(f"{name}: sample {sample!r} has characters Alexa does not allow")
        for referenced in _SLOT_REFERENCE.findall(sample):
            if referenced not in slots:
                problems.append(f"{name}: sample {sample!r} uses undeclared slot {{{referenced}}}")
        if sample.count("{") != sample.count("}"):
            problems.append(f"{name}: sample {sample!r} has unbalanced braces")
        if len(sample) > MAX_SAMPLE_CHARACTERS:
            problems.append(f"{name}: sample {sample[:40]!r}… is longer than {MAX_SAMPLE_CHARACTERS} characters")
    # A free-text catch-all's samples are its carrier phrases: one suffices (its words are what varies).
    catch_all = SEARCH_QUERY_TYPE in slots.values()
    if not name.startswith("AMAZON.") and not catch_all and len(samples) < MIN_SAMPLES_PER_CUSTOM_INTENT:
        problems.append(f"{name}: {len(samples)} samples, at least {MIN_SAMPLES_PER_CUSTOM_INTENT} needed")
    if len(samples) > MAX_SAMPLES_PER_INTENT:
        problems.append(f"{name}: {len(samples)} samples, Amazon allows at most {MAX_SAMPLES_PER_INTENT} per intent")
    problems.extend(search_query_problems(name, slots, samples))
    return problems


def type_problems(slot_type: Mapping[str, Any]) -> list[str]:
    name = slot_type.get("name", "?")
    values = slot_type.get("values", [])
    if not values:
        return [f"slot type {name} has no values"]
    problems = []
    ids: set[str] = set()
    phrases: dict[str, str] = {}
    for value in values:
        value_name = (value.get("name") or {}).get("value")
        if not isinstance(value_name, str) or not value_name.strip():
            problems.append(f"slot type {name}: a value has no name")
            continue
        value_id = str(value.get("id") or value_name)
        if value_id in ids:
            problems.append(f"slot type {name}: id {value_id!r} is used twice")
        ids.add(value_id)
        for phrase in (value_name, *(value.get("name") or {}).get("synonyms", [])):
            if len(phrase) > MAX_SLOT_VALUE_CHARACTERS:
                problems.append(
                    f"slot type {name}: {phrase[:40]!r}… is longer than {MAX_SLOT_VALUE_CHARACTERS} characters"
                )
            key = sample_key(phrase)
            if key in phrases and phrases[key] != value_id:
                problems.append(f"slot type {name}: {phrase!r} means both {phrases[key]} and {value_id}")
            phrases[key] = value_id
    return problems


def model_problems(document: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]]:
    try:
        language = document["interactionModel"]["languageModel"]
    except (KeyError, TypeError):
        return ["not an ASK interaction model (no interactionModel.languageModel)"], {}
    problems = invocation_name_problems(language.get("invocationName"))
    intents = language.get("intents", [])
    types = {t.get("name") for t in language.get("types", [])}
    names = [intent.get("name") for intent in intents]
    for duplicate in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"intent {duplicate} is defined twice")
    if len(intents) > MAX_INTENTS:
        problems.append(f"{len(intents)} intents, more than the {MAX_INTENTS} this check allows")
    problems.extend(conflict_problems(intents))
    for intent in intents:
        problems.extend(intent_problems(intent, types))
    for slot_type in language.get("types", []):
        problems.extend(type_problems(slot_type))
    slot_phrases = sum(
        1 + len((value.get("name") or {}).get("synonyms", []))
        for slot_type in language.get("types", [])
        for value in slot_type.get("values", [])
    )
    if slot_phrases > MAX_SLOT_VALUES_AND_SYNONYMS:
        problems.append(f"{slot_phrases} slot values and synonyms, Amazon allows {MAX_SLOT_VALUES_AND_SYNONYMS}")
    size = len(json.dumps(document, ensure_ascii=False))
    if size > MAX_MODEL_CHARACTERS:
        problems.append(f"the model is {size} characters, Amazon accepts at most {MAX_MODEL_CHARACTERS}")
    for required in (*REQUIRED_BUILT_INS, *AUDIO_PLAYER_BUILT_INS):
        if required not in names:
            problems.append(f"{required} is missing")
    sensitivity = (language.get("modelConfiguration") or {}).get("fallbackIntentSensitivity", {}).get("level")
    if sensitivity is not None and sensitivity not in FALLBACK_SENSITIVITIES:
        problems.append(f"fallbackIntentSensitivity.level {sensitivity!r} is not LOW, MEDIUM or HIGH")
    custom = [n for n in names if isinstance(n, str) and not n.startswith("AMAZON.")]
    summary = {
        "invocation_name": language.get("invocationName"),
        "intents": len(names),
        "custom_intents": len(custom),
        "samples": sum(len(intent.get("samples", [])) for intent in intents),
        "slot_types": len(types),
        "slot_values_and_synonyms": slot_phrases,
        "characters": size,
    }
    return problems, summary


def conflict_key(sample: str) -> str:
    """Samples that differ only in their slots' names ("what about {topic}", "what about {query}") are the same
    words to Alexa: a conflict too."""
    return _SLOT_REFERENCE.sub("{}", sample_key(sample))


def conflict_problems(intents: Iterable[Mapping[str, Any]]) -> list[str]:
    """A sample (after normalisation) in two intents, or twice in one, is an error naming both intents."""
    problems = []
    owners: dict[str, tuple[str, str]] = {}
    for intent in intents:
        for sample in intent.get("samples", []):
            key = conflict_key(sample) if isinstance(sample, str) else ""
            if not key:
                continue
            if key in owners:
                owner, first = owners[key]
                same = "" if first == sample else f" (as {first!r})"
                where = (
                    f"twice in {owner}"
                    if owner == intent.get("name")
                    else f"in both {owner}{same} and {intent.get('name')}"
                )
                problems.append(f"sample {sample!r} is {where}")
            else:
                owners[key] = (intent.get("name", "?"), sample)
    return problems


def grammar_problems(path: Path) -> tuple[list[str], list[str]]:
    """The committed JSON must be exactly what the locale's grammar builds."""
    source = grammar_path(Path(path).parent, Path(path).stem)
    if not source.is_file():
        return [], [f"no grammar at {source}: the JSON is checked on its own"]
    try:
        built = build_model_text(source)
    except (OSError, GrammarError) as error:
        return [f"the grammar {source} cannot be built: {error}"], []
    if Path(path).read_text(encoding="utf-8") != built:
        return [f"{path} is not what {source} builds: run `letdown model build`"], []
    return [], []


# --- the model against the code -------------------------------------------------------------------------


def registered_handlers(skill: Any) -> list[Any]:
    """The request handlers of a built ask-sdk skill, in dispatch order."""
    return [
        chain.request_handler
        for mapper in skill.request_dispatcher.request_mappers
        for chain in mapper.request_handler_chains
    ]


def synthetic_intent_envelope(intent_name: str, slots: Iterable[str]) -> dict[str, Any]:
    """A new-session IntentRequest with the intent's slots unfilled, from an AudioPlayer device at rest."""
    application_id, user_id = "amzn1.ask.skill.model-check", "amzn1.ask.account.model-check"
    return envelopes.request_envelope(
        envelopes.intent_request(intent_name, {slot: {} for slot in slots}),
        envelopes.device_context(application_id=application_id, user_id=user_id, device_id="model-check"),
        envelopes.session_part(
            application_id=application_id,
            user_id=user_id,
            session_id=f"amzn1.echo-api.session.model-check-{uuid.uuid4()}",
        ),
        locale="en-US",
        request_id_prefix="amzn1.echo-api.request.model-check-",
    )


def code_problems(document: Mapping[str, Any], model_dir: Path) -> tuple[list[str], list[str], dict[str, Any]]:
    """Builds the skill (against a throw-away SQLite file) and matches handlers with model intents."""
    intents = document["interactionModel"]["languageModel"].get("intents", [])
    problems: list[str] = []
    notes: list[str] = []
    handlers: list[Any] = []
    answered: dict[Any, set[str]] = {}
    with tempfile.TemporaryDirectory(prefix="letdown-model-check-") as scratch:
        config = replace(
            Config.from_env({}), database_url=f"sqlite:///{Path(scratch) / 'check.db'}", model_dir=model_dir
        )
        store = open_store(config.database_url)
        try:
            deps = SkillDeps.load(config)
            skill = build_skill(deps, store)
            handlers = registered_handlers(skill)
            serializer = DefaultSerializer()
            for intent in intents:
                slot_names = [slot["name"] for slot in intent.get("slots", [])]
                envelope = serializer.deserialize(
                    json.dumps(synthetic_intent_envelope(intent["name"], slot_names)), RequestEnvelope
                )
                handler_input = HandlerInput(
                    request_envelope=envelope,
                    attributes_manager=AttributesManager(request_envelope=envelope, persistence_adapter=store),
                )
                for interceptor in skill.request_dispatcher.request_interceptors:  # as the skill runs them
                    interceptor.process(handler_input)
                answering = [h for h in handlers if not getattr(h, "catch_all", False) and h.can_handle(handler_input)]
                if not answering:
                    problems.append(f"model intent {intent['name']} has no handler")
                for handler in answering:
                    answered.setdefault(handler, set()).add(intent["name"])
        finally:
            store.close()
    model_names = {intent["name"] for intent in intents}
    declared = {name for handler in handlers for name in getattr(handler, "intent_names", ())}
    # The free-text handler answers every locale's catch-alls (it reads them from the models): another
    # locale's siblings are not dead code here.
    declared = {name for name in declared if not is_free_text_intent(name)}
    for name in sorted(declared - model_names):
        problems.append(f"a handler answers {name}, which is not in the model")
    for handler, names in sorted(answered.items(), key=repr):
        for name in sorted(names - set(getattr(handler, "intent_names", ()))):
            problems.append(f"{handler!r} answers {name} without declaring it in intent_names")
    return problems, notes, {"handlers": len(handlers), "declared_intents": len(declared)}


def check_model(path: Path, *, with_code: bool = True, with_grammar: bool = True) -> CheckReport:
    report = CheckReport()
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        report.problems.append(f"cannot read {path}: {error}")
        return report
    problems, summary = model_problems(document)
    report.problems.extend(problems)
    report.summary.update(summary)
    if with_grammar:
        grammar, notes = grammar_problems(path)
        report.problems.extend(grammar)
        report.notes.extend(notes)
    if with_code and summary:
        code, notes, code_summary = code_problems(document, Path(path).parent)
        report.problems.extend(code)
        report.notes.extend(notes)
        report.summary.update(code_summary)
    return report


def run_model_check(args: argparse.Namespace) -> int:
    if args.all:
        paths = sorted(path for path in DEFAULT_MODEL_DIR.glob("*.json") if LOCALE_FILE.fullmatch(path.stem))
        return max((check_one(path, args.model_only) for path in paths), default=1)
    return check_one(args.model, args.model_only)


def check_one(path: Path, model_only: bool) -> int:
    report = check_model(path, with_code=not model_only)
    for note in report.notes:
        print(f"note: {note}")
    if not report.ok:
        print(f"{path}: {len(report.problems)} problem(s):")
        for problem in report.problems:
            print(f"  - {problem}")
        return 1
    summary = ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in report.summary.items())
    print(f"{path}: OK ({summary})")
    return 0


def add_model_parser(subparsers: argparse._SubParsersAction) -> None:
    model = subparsers.add_parser("model", help="interaction model tools")
    model_commands = model.add_subparsers(dest="model_command", required=True)
    check = model_commands.add_parser(
        "check", help="check the interaction model against Alexa's rules and against the handlers"
    )
    check.add_argument(
        "--model", type=Path, default=DEFAULT_MODEL_DIR / "en-US.json", help="model file (default: en-US)"
    )
    check.add_argument("--model-only", action="store_true", help="skip the code check (no skill is built)")
    check.add_argument("--all", action="store_true", help="check every locale's model (<locale>.json) in the folder")
    check.set_defaults(run=run_model_check)
    add_build_parser(model_commands)
