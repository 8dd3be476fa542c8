"""The parts of an ASK interaction model the skill reads: intents, their slots and samples, slot values.

Loaded once per app (`ModelCatalog.load`) and read on the request path (slot value ids, CanFulfill).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from skill.config import DEFAULT_LOCALE
from skill.text import spoken_form

log = logging.getLogger(__name__)

LAUNCH = "LaunchRequest"
FALLBACK_INTENT = "AMAZON.FallbackIntent"
DURATION_TYPE = "AMAZON.DURATION"
# Alexa's launch phrases ("ask/open/start … <invocation name>"): they may precede the invocation name in an
# utterance, and an invocation name may not contain them.
# The Spanish ones ("Alexa, abre / pide a / pregunta a / dile a …") are our own list of the Spanish
# equivalents of the English words, not copied from an Amazon table.
LAUNCH_WORDS = frozenset(
    {"ask", "tell", "open", "launch", "enable", "load", "begin", "start", "run", "use",
     "abre", "abrir", "pide", "pídele", "pregunta", "pregúntale", "dile", "inicia", "iniciar", "empieza",
     "comienza", "lanza", "habilita", "activa", "ejecuta", "usa"}
)  # fmt: skip


@dataclass(frozen=True)
class SlotValue:
    id: str
    name: str
    synonyms: tuple[str, ...]

    def phrases(self) -> tuple[str, ...]:
        return (self.name, *self.synonyms)


@dataclass(frozen=True)
class IntentDef:
    name: str
    slots: Mapping[str, str]  # slot name → slot type
    samples: tuple[str, ...]


@dataclass(frozen=True)
class InteractionModel:
    """The parts of an ASK interaction model the skill reads."""

    invocation_name: str
    intents: Mapping[str, IntentDef]
    types: Mapping[str, tuple[SlotValue, ...]]

    @classmethod
    def load(cls, path: Path) -> InteractionModel:
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> InteractionModel:
        language = document["interactionModel"]["languageModel"]
        intents = {}
        for intent in language.get("intents", []):
            slots = {slot["name"]: slot["type"] for slot in intent.get("slots", [])}
            intents[intent["name"]] = IntentDef(intent["name"], slots, tuple(intent.get("samples", [])))
        types = {}
        for slot_type in language.get("types", []):
            values = []
            for value in slot_type.get("values", []):
                name = value["name"]
                values.append(
                    SlotValue(value.get("id") or name["value"], name["value"], tuple(name.get("synonyms", [])))
                )
            types[slot_type["name"]] = tuple(values)
        return cls(language.get("invocationName", ""), MappingProxyType(intents), MappingProxyType(types))

    def value_id(self, slot_type: str, spoken: str | None) -> str | None:
        """The id of the slot value whose name or synonym is `spoken` (normalised), else None."""
        if not spoken:
            return None
        wanted = spoken_form(spoken)
        for value in self.types.get(slot_type, ()):
            if wanted == spoken_form(value.id) or any(wanted == spoken_form(p) for p in value.phrases()):
                return value.id
        return None


class ModelCatalog:
    """The interaction models of every locale in a folder (`<locale>.json`), with the content's fallback."""

    def __init__(self, models: Mapping[str, InteractionModel]) -> None:
        self._models = MappingProxyType(dict(models))

    @classmethod
    def load(cls, model_dir: Path) -> ModelCatalog:
        models = {}
        for path in sorted(Path(model_dir).glob("*.json")) if Path(model_dir).is_dir() else ():
            if not re.fullmatch(r"[a-z]{2}-[A-Z]{2}", path.stem):
                continue
            try:
                models[path.stem] = InteractionModel.load(path)
            except (OSError, ValueError, KeyError, TypeError) as error:
                log.warning("interaction model %s cannot be read: %s", path, error)
        return cls(models)

    def models(self) -> tuple[InteractionModel, ...]:
        return tuple(self._models.values())

    def by_locale(self) -> Mapping[str, InteractionModel]:
        return self._models

    def for_locale(self, locale: str | None) -> InteractionModel | None:
        if locale is not None and locale in self._models:
            return self._models[locale]
        language = (locale or "").split("-")[0]
        same_language = [name for name in sorted(self._models) if name.split("-")[0] == language]
        if DEFAULT_LOCALE in same_language:
            return self._models[DEFAULT_LOCALE]
        if same_language:
            return self._models[same_language[0]]
        return self._models.get(DEFAULT_LOCALE)
