"""The repository stands alone: its documents cite only files it has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = sorted(
    {ROOT / "README.md", ROOT / "MIGRATION.md", ROOT / "CHANGELOG.md"}
    | {
        p
        for folder in ("docs", "examples", "benchmarks", "src")
        for p in (ROOT / folder).rglob("*")
    }
)
TEXTS = [p for p in DOCUMENTS if p.is_file() and p.suffix in {".md", ".py", ".env", ".txt"}]


@pytest.mark.parametrize("path", TEXTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_document_cites_files_outside_the_repository(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"(?<![\w/.])(spec|seed)/[\w.-]+\.(md|txt)", text)
    assert "../shared" not in text


@pytest.mark.parametrize("path", [p for p in TEXTS if p.suffix == ".md"], ids=lambda p: p.name)
def test_every_relative_link_and_cited_path_exists(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#\s]+)\)", text)
    cited = re.findall(r"`((?:examples|docs|benchmarks|src|tests)/[\w./-]+)`", text)
    for target in links + cited:
        if "://" in target or target.startswith("mailto:"):
            continue
        assert (path.parent / target).exists() or (ROOT / target).exists(), target
