"""The report's HTML page in a real headless Chromium: the verdict and charts render, offline.

CI installs Debian's ``chromium`` (``.ci/run``); elsewhere install it the same way
(``apt-get install -y chromium``).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from test_report import clean, delete, difference, write

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: apt-get update && apt-get install -y chromium")
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )


def png_pixels(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the inflated image data of a PNG (filter bytes included)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks, size = 8, [], (0, 0)
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            chunks.append(body)
        position += 12 + length
    return size[0], size[1], zlib.decompress(b"".join(chunks))


@pytest.fixture
def page(tmp_path: Path) -> Path:
    lines = [
        *clean(40, ts="2026-11-23T10:00:00.000000+00:00"),
        *[
            delete(
                1000 + n, "item_verified", ms=30.0 + n, ts=f"2026-11-23T11:{n:02d}:00.000000+00:00"
            )
            for n in range(40)
        ],
        difference("outcome", 3, ts="2026-11-23T10:00:00.000000+00:00"),
        difference("result_shape", 1001, "item_verified", ts="2026-11-23T11:01:00.000000+00:00"),
    ]
    out = tmp_path / "report.html"
    log = write(tmp_path / "log.jsonl", lines)
    done = subprocess.run(
        [sys.executable, "-m", "b24shim", "report", str(log), "--html", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    return out


def test_the_page_renders_its_verdict_and_charts_in_chromium(tmp_path: Path, page: Path) -> None:
    dom = chromium(tmp_path, "--dump-dom", page.as_uri()).stdout.decode("utf-8")
    assert "Verdict: DIFFERENCES" in dom
    assert "behavioural differences in 1 of 80 verified deletes: outcome (1)" in dom
    for chart in ("deletes-chart", "differences-chart", "format-chart", "latency-chart"):
        assert f'id="{chart}"' in dom
    assert dom.count("<svg") == 4
    assert dom.count("<rect") > 10  # the bars were parsed into the DOM


def test_the_page_screenshot_is_not_blank(tmp_path: Path, page: Path) -> None:
    shot = tmp_path / "shot.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri())
    width, height, pixels = png_pixels(shot)
    assert (width, height) == (1200, 1600)
    # A blank page inflates to a few byte values; text, the red verdict and bars to many.
    assert len(set(pixels)) > 100
    assert len(pixels) > width * height
