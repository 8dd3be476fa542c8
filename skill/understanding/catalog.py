"""One resolver per interaction-model locale, built once per process (held by SkillDeps)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from skill.config import DEFAULT_LOCALE
from skill.interaction_model import ModelCatalog
from skill.interaction_model_grammar import GrammarError, load_grammar
from skill.speech.content import ContentLibrary
from skill.understanding.resolver import Resolver

log = logging.getLogger(__name__)

GRAMMAR_FOLDER = "grammar"


class ResolverCatalog:
    def __init__(self, resolvers: Mapping[str, Resolver]) -> None:
        self._resolvers = MappingProxyType(dict(resolvers))

    @classmethod
    def load(cls, model_dir: Path, models: ModelCatalog, content: ContentLibrary) -> ResolverCatalog:
        resolvers = {}
        for locale, model in models.by_locale().items():
            resolvers[locale] = Resolver(model, content.locale(locale), phrase_lists(model_dir, locale))
        return cls(resolvers)

    def for_locale(self, locale: str | None) -> Resolver | None:
        if locale is not None and locale in self._resolvers:
            return self._resolvers[locale]
        language = (locale or "").split("-")[0]
        same_language = sorted(name for name in self._resolvers if name.split("-")[0] == language)
        if DEFAULT_LOCALE in same_language or not same_language:
            return self._resolvers.get(DEFAULT_LOCALE)
        return self._resolvers[same_language[0]]


def phrase_lists(model_dir: Path, locale: str) -> tuple[tuple[str, ...], ...]:
    """The grammar's shared phrase lists (synonyms for the resolver); none when there is no grammar."""
    path = Path(model_dir) / GRAMMAR_FOLDER / f"{locale}.yaml"
    if not path.is_file():
        return ()
    try:
        return tuple(tuple(phrases) for phrases in load_grammar(path).phrase_lists.values())
    except (OSError, GrammarError) as error:
        log.warning("grammar %s cannot be read for the resolver's synonyms: %s", path, error)
        return ()
