"""`letdown model build`: writes `interaction_model/<locale>.json` from `interaction_model/grammar/<locale>.yaml`.

The output is deterministic (the grammar's expansion is sorted; the JSON is written with fixed
indentation and key order), so the committed file changes only when the grammar does.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from skill.config import DEFAULT_LOCALE, DEFAULT_MODEL_DIR
from skill.interaction_model_grammar import GrammarError, load_grammar

GRAMMAR_DIR_NAME = "grammar"


def grammar_path(model_dir: Path, locale: str) -> Path:
    return Path(model_dir) / GRAMMAR_DIR_NAME / f"{locale}.yaml"


def model_path(model_dir: Path, locale: str) -> Path:
    return Path(model_dir) / f"{locale}.json"


def render_model(document: Any) -> str:
    """The committed form of a model document: two-space indentation, UTF-8, a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def build_model_text(grammar_file: Path) -> str:
    return render_model(load_grammar(grammar_file).expand())


def run_model_build(args: argparse.Namespace) -> int:
    source = grammar_path(args.model_dir, args.locale)
    target = model_path(args.model_dir, args.locale)
    try:
        text = build_model_text(source)
    except (OSError, GrammarError) as error:
        print(f"letdown model build: {error}")
        return 1
    unchanged = target.is_file() and target.read_text(encoding="utf-8") == text
    if not unchanged:
        target.write_text(text, encoding="utf-8")
    intents = json.loads(text)["interactionModel"]["languageModel"]["intents"]
    samples = sum(len(intent["samples"]) for intent in intents)
    state = "unchanged" if unchanged else "written"
    print(f"{target}: {state} ({len(intents)} intents, {samples} samples, {len(text.encode())} bytes)")
    return 0


def add_build_parser(model_commands: argparse._SubParsersAction) -> None:
    build = model_commands.add_parser("build", help="generate the interaction model JSON from its grammar")
    build.add_argument("--locale", default=DEFAULT_LOCALE, help=f"locale to build (default {DEFAULT_LOCALE})")
    build.add_argument(
        "--model-dir", type=Path, default=DEFAULT_MODEL_DIR, help="folder holding <locale>.json and grammar/"
    )
    build.set_defaults(run=run_model_build)
