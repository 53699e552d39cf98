"""Every runnable example runs as documented: on the built-in emulator, exit 0, no traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from b24shim import LeadShim, Stage
from b24shim._variables import KNOWN

ROOT = Path(__file__).parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def test_there_are_examples() -> None:
    names = {path.name for path in EXAMPLES}
    assert {"drop_in_replacement.py", "rollout.py"} <= names


def run_example(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run an example as a user would, without this process's B24SHIM_* settings."""
    return subprocess.run(
        [sys.executable, str(path), *args],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("B24SHIM_")},
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(path: Path) -> None:
    done = run_example(path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout.strip()


def test_rollout_names_its_environments_instead_of_a_key_error() -> None:
    done = run_example(ROOT / "examples" / "rollout.py", "bogus")
    assert done.returncode == 2
    assert "usage: rollout.py [development|staging|production]" in done.stderr
    assert "no environment named 'bogus'" in done.stderr
    assert "Traceback" not in done.stderr


def test_rollout_env_loads_as_its_comment_says_and_starts_a_shim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `set -a; . file; set +a`, as the file says, in a clean shell.
    loaded = subprocess.run(
        ["bash", "-c", f"set -a; . {ROOT / 'examples' / 'rollout.env'}; set +a; env -0"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", "")},
        cwd=tmp_path,
        timeout=60,
        check=True,
    )
    env = dict(item.split("=", 1) for item in loaded.stdout.split("\0") if "=" in item)
    settings = {k: v for k, v in env.items() if k.startswith("B24SHIM_")}
    assert settings["B24SHIM_LEAD_DELETE_STAGE"] == "legacy_verified"
    mentioned = set(
        re.findall(r"B24SHIM_[A-Z_]*[A-Z]", (ROOT / "examples" / "rollout.env").read_text())
    )
    assert mentioned <= KNOWN  # no variable the shim would ignore
    monkeypatch.chdir(tmp_path)  # the differences log is relative to the working directory
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shim = LeadShim.from_env(
            {**settings, "B24SHIM_WEBHOOK_URL": "http://127.0.0.1:9/rest/1/c0de/"}
        )
    assert shim.stage is Stage.LEGACY_VERIFIED
