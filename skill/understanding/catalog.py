"""One resolver per interaction-model locale, built once per process (held by SkillDeps)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

from skill.config import DEFAULT_LOCALE
from skill.interaction_model import InteractionModel, ModelCatalog
from skill.interaction_model_grammar import GrammarError, load_grammar
from skill.speech.content import ContentLibrary
from skill.understanding.resolver import Resolver

log = logging.getLogger(__name__)

GRAMMAR_FOLDER = "grammar"


class ResolverCatalog:
    """A resolver per model locale, each built on first use, or all at once with `build_all`.

    Building one takes a while (every sample normalised and indexed): a tool or a Lambda cold start that meets
    one locale builds one; `letdown serve` builds all before it listens, so that no request waits for one."""

    def __init__(self, builders: Mapping[str, Callable[[], Resolver]]) -> None:
        self._builders = MappingProxyType(dict(builders))
        self._built: dict[str, Resolver] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, model_dir: Path, models: ModelCatalog, content: ContentLibrary) -> ResolverCatalog:
        memo: dict[str, str] = {}  # sample texts' normal forms, shared by the builds (the locales share samples)

        def builder(locale: str, model: InteractionModel) -> Callable[[], Resolver]:
            return lambda: Resolver(model, content.locale(locale), phrase_lists(model_dir, locale), build_memo=memo)

        return cls({locale: builder(locale, model) for locale, model in models.by_locale().items()})

    @property
    def built_locales(self) -> tuple[str, ...]:
        return tuple(sorted(self._built))

    def build_all(self) -> None:
        for locale in self._builders:
            self._resolver(locale)

    def _resolver(self, locale: str) -> Resolver:
        built = self._built.get(locale)
        if built is not None:
            return built
        with self._lock:  # one build per locale, even when the first requests race
            if locale not in self._built:
                self._built[locale] = self._builders[locale]()
            return self._built[locale]

    def for_locale(self, locale: str | None) -> Resolver | None:
        if locale is not None and locale in self._builders:
            return self._resolver(locale)
        language = (locale or "").split("-")[0]
        same_language = sorted(name for name in self._builders if name.split("-")[0] == language)
        if DEFAULT_LOCALE in same_language or not same_language:
            return self._resolver(DEFAULT_LOCALE) if DEFAULT_LOCALE in self._builders else None
        return self._resolver(same_language[0])


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
