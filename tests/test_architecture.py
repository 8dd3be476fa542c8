"""The import contract of pyproject.toml ([tool.importlinter]) runs and holds; it would catch an upward import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )


def test_the_layers_contract_is_kept() -> None:
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_the_contract_breaks_on_an_upward_import(tmp_path: Path) -> None:
    # The same tool on a contract that puts speech above the conversation, which imports Reply from it.
    config = tmp_path / "upside-down.toml"
    config.write_text(
        '[tool.importlinter]\nroot_package = "skill"\n\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "upside down"\ntype = "layers"\nlayers = ["skill.speech", "skill.conversation"]\n',
        encoding="utf-8",
    )
    result = lint_imports("--config", str(config))
    assert result.returncode == 1
    assert "skill.conversation.guidance -> skill.speech" in result.stdout
