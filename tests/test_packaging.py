"""What a user installs: declared runtime floors that are tested, and a licence in every archive."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOWEST = ROOT / ".ci" / "lowest.txt"

# DESIGN section 2: requests with urllib3 2, attrs, cachetools, tqdm; nothing else at run time.
RUNTIME = {"requests", "urllib3", "attrs", "cachetools", "tqdm"}


def release(text: str) -> tuple[int, ...]:
    """``"2.30"`` and ``"2.30.0"`` compare equal."""
    parts = [int(part) for part in text.split(".")]
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def declared_floors() -> dict[str, str]:
    floors: dict[str, str] = {}
    for requirement in importlib.metadata.requires("b24shim") or []:
        if "extra ==" in requirement:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9.]*)", requirement.strip())
        assert match, f"every runtime dependency needs a tested floor: {requirement!r}"
        floors[match[1].lower()] = match[2]
    return floors


def lowest_pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in LOWEST.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            name, _, version = text.partition("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def test_the_runtime_dependencies_are_the_designed_ones_with_urllib3_2() -> None:
    floors = declared_floors()
    assert set(floors) == RUNTIME
    # b24shim imports urllib3 2 names; with urllib3 1.26 `import b24shim` fails.
    assert release(floors["urllib3"]) >= (2,)
    # requests below 2.30 refuses urllib3 2, so it could never be installed beside it.
    assert release(floors["requests"]) >= (2, 30)


def test_the_lowest_run_pins_every_runtime_dependency_at_its_floor() -> None:
    floors = declared_floors()
    pins = lowest_pins()
    assert set(pins) == set(floors)
    assert {name: release(v) for name, v in pins.items()} == {
        name: release(v) for name, v in floors.items()
    }


def test_ci_runs_the_suite_again_with_the_lowest_versions() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "-c .ci/lowest.txt" in script
    assert re.search(r"\.venv-lowest/bin/python -m pytest", script)


def test_the_wheel_and_the_sdist_carry_the_licence(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-d", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License")
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (inside,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
        assert archive.read(inside).decode() == licence
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        assert "License-Expression: MIT" in archive.read(metadata).decode()
    (sdist,) = tmp_path.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("/LICENSE"))
        handle = archive.extractfile(member)
        assert handle is not None
        assert handle.read().decode() == licence
