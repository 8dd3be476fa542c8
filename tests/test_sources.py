"""Every source the content and the code cite is listed in docs/sources.md (sources.md#<anchor>)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from skill.config import DEFAULT_AUDIO_DIR

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCES = REPO_ROOT / "docs" / "sources.md"
LOCALE_ROOT = REPO_ROOT / "skill" / "speech" / "locale"
CITATION = re.compile(r"sources\.md#([a-z0-9-]+)")


def anchors() -> set[str]:
    """The `### anchor` headings of docs/sources.md."""
    return set(re.findall(r"^### ([a-z0-9-]+)\s*$", SOURCES.read_text(encoding="utf-8"), flags=re.MULTILINE))


def content_sources() -> list[tuple[str, str]]:
    """(where, source) of every message and data entry of every locale, and of every audio track."""
    found = []
    for path in sorted(LOCALE_ROOT.glob("*/*.yaml")):
        for key, entry in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items():
            found.append((f"{path.relative_to(REPO_ROOT)}: {key}", entry.get("source", "")))
    catalog = tomllib.loads((DEFAULT_AUDIO_DIR / "catalog.toml").read_text(encoding="utf-8"))
    found.extend((f"audio/catalog.toml: {track['id']}", track.get("source", "")) for track in catalog["track"])
    return found


def test_sources_md_lists_the_primary_article_and_the_platform_docs() -> None:
    assert {"cleveland-letdown", "dialog", "alexa-web-service", "alexa-audioplayer"} <= anchors()


@pytest.mark.parametrize(("where", "source"), content_sources())
def test_every_source_field_cites_an_entry_of_sources_md(where: str, source: str) -> None:
    cited = CITATION.findall(source)
    assert cited, f"{where}: source {source!r} cites no entry of docs/sources.md"
    assert set(cited) <= anchors(), f"{where}: unknown anchors {sorted(set(cited) - anchors())}"


def test_every_citation_in_code_and_docs_resolves() -> None:
    files = [*REPO_ROOT.glob("skill/**/*.py"), *REPO_ROOT.glob("tests/*.py"), *REPO_ROOT.glob("docs/*.md")]
    files += [*LOCALE_ROOT.glob("*/*.yaml"), REPO_ROOT / "README.md", REPO_ROOT / "CONTRIBUTING.md"]
    files += [REPO_ROOT / "audio" / "catalog.toml"]
    unknown = {
        f"{path.relative_to(REPO_ROOT)}: {anchor}"
        for path in files
        if path.is_file()
        for anchor in CITATION.findall(path.read_text(encoding="utf-8"))
        if anchor not in anchors()
    }
    assert not unknown
