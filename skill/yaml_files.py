"""Reading the project's YAML files (grammars, content): one safe loader for all of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# libyaml's safe loader when PyYAML was built with it: several times faster on the large grammar and content files
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
YAMLError = yaml.YAMLError


def read_yaml(path: Path) -> Any:
    """The document in a UTF-8 YAML file; raises YAMLError (or OSError) when it cannot be read."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
