"""APL documents for Echo screens (skill/speech/apl/*.json), loaded once and handed out read-only.

Each document is checked by Amazon's validator (apl-suggester) in the tests; here it only has to be a
JSON object of type APL. The words shown come from the locale content, the timing from the track catalog,
both through the document's data sources.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import MappingProxyType
from typing import Any

APL_DIR = Path(__file__).resolve().parent / "apl"
BREATHING_DOCUMENT = "breathing"


class ScreenError(ValueError):
    """An APL document is missing or not an APL document."""


class ScreenLibrary:
    def __init__(self, documents: dict[str, dict[str, Any]]) -> None:
        self._documents = MappingProxyType(documents)

    @classmethod
    def load(cls, folder: Path = APL_DIR) -> ScreenLibrary:
        documents = {}
        for path in sorted(folder.glob("*.json")):
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise ScreenError(f"{path}: {error}") from None
            if not isinstance(document, dict) or document.get("type") != "APL":
                raise ScreenError(f"{path}: not an APL document")
            documents[path.stem] = document
        return cls(documents)

    def names(self) -> list[str]:
        return sorted(self._documents)

    def document(self, name: str) -> dict[str, Any]:
        """A fresh copy of the document (the response serializer may hold on to what it is given)."""
        try:
            return copy.deepcopy(self._documents[name])
        except KeyError:
            raise ScreenError(f"no APL document named {name!r} in {APL_DIR}") from None
