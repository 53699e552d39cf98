"""``b24shim report``: counts, times, examples, verdict and exit status from a crafted log."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from b24shim import Difference, Stage, report
from b24shim.sinks import JsonlDifferenceSink


def line(kind: str, lead_id: int, stage: str, ts: str, behavioral: bool | None = None) -> str:
    record: dict[str, Any] = {
        "kind": kind,
        "lead_id": lead_id,
        "stage": stage,
        "legacy": None,
        "item": None,
        "detail": "...",
        "ts": ts,
    }
    record["behavioral"] = report.BEHAVIORAL_KINDS[kind] if behavioral is None else behavioral
    return json.dumps(record)


def run_report(path: Path, *extra: str) -> int:
    parser = argparse.ArgumentParser(prog="b24shim report")
    report.add_arguments(parser)
    return report.run(parser.parse_args([str(path), *extra]))


@pytest.fixture
def clean_log(tmp_path: Path) -> Path:
    path = tmp_path / "clean.jsonl"
    lines = [
        line("result_shape", 10, "item", "2024-05-01T10:00:00+00:00"),
        line("result_shape", 11, "item", "2024-05-01T10:00:01+00:00"),
        line("error_format", 12, "item", "2024-05-01T09:00:00+00:00"),
        line("result_shape", 10, "item_verified", "2024-05-02T10:00:00+00:00"),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def mixed_log(tmp_path: Path) -> Path:
    path = tmp_path / "mixed.jsonl"
    lines = [
        line("result_shape", 1, "item", "2024-05-01T10:00:00+00:00"),
        line("visibility", 2, "legacy_verified", "2024-05-01T11:00:00+00:00"),
        line("visibility", 3, "legacy_verified", "2024-05-01T12:00:00Z"),
        line("visibility", 4, "item_verified", "2024-05-01T13:00:00+02:00"),
        line("visibility", 5, "item_verified", "2024-05-01T14:00:00+00:00"),
        "",
        "this is not json",
        line("fallback", 6, "item", "2024-05-03T08:00:00+00:00"),
        '{"kind": "outcome"}',  # no lead id
        "[1, 2]",
        line("verification_error", 2, "legacy_verified", "2024-05-01T11:00:00+00:00"),
        '{"kind": "visibility", "lead_id": 7, "stage": "item", "behavioral": "yes"}',
        line("result_shape", 8, "item", "2024-05-01T10:00:00"),  # naive: taken as UTC
        '{"kind": "still_visible", "lead_id": 9, "behavioral": tr',  # torn by a crash
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_clean_log_says_no_behavioural_differences(
    clean_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_report(clean_log) == 0
    out = capsys.readouterr().out
    assert "verdict: no behavioural differences in 3 deletes" in out
    assert "4 differences for 3 leads (0 behavioural, 4 not)" in out
    assert "first seen: 2024-05-01T09:00:00+00:00   last seen: 2024-05-02T10:00:00+00:00" in out
    assert "by stage: item 3, item_verified 1" in out
    assert "malformed" not in out


def test_behavioural_differences_are_named_with_advice(
    mixed_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_report(mixed_log) == 1
    out = capsys.readouterr().out
    assert (
        "verdict: behavioural differences in 7 deletes: look at visibility (4), "
        "fallback (1), verification_error (1)"
    ) in out
    assert f"  visibility: {report.ADVICE['visibility']}" in out
    assert f"  fallback: {report.ADVICE['fallback']}" in out
    assert f"  verification_error: {report.ADVICE['verification_error']}" in out
    assert "outcome:" not in out
    assert "malformed lines: 5 (line 7, 9, 10, 12, 14)" in out


def test_the_json_report_has_every_count(
    mixed_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_report(mixed_log, "--json") == 1
    data = json.loads(capsys.readouterr().out)
    assert data["file"] == str(mixed_log)
    assert data["records"] == 8
    assert data["malformed"] == {"count": 5, "lines": [7, 9, 10, 12, 14]}
    assert data["deletes"] == 7
    assert (data["behavioral"], data["not_behavioral"]) == (6, 2)
    assert data["first_seen"] == "2024-05-01T10:00:00+00:00"
    assert data["last_seen"] == "2024-05-03T08:00:00+00:00"
    assert data["stages"] == {"item": 3, "item_verified": 2, "legacy_verified": 3}
    visibility = data["kinds"]["visibility"]
    assert visibility == {
        "count": 4,
        "behavioral": True,
        "stages": {"item_verified": 2, "legacy_verified": 2},
        "first_seen": "2024-05-01T11:00:00+00:00",
        "last_seen": "2024-05-01T14:00:00+00:00",
        "examples": [2, 3, 4],
    }
    assert list(data["kinds"]) == [
        "visibility",
        "result_shape",
        "fallback",
        "verification_error",
    ]
    assert data["kinds"]["result_shape"]["behavioral"] is False
    assert set(data["advice"]) == {"visibility", "fallback", "verification_error"}
    assert data["verdict"].startswith("behavioural differences in 7 deletes")
    assert data["exit_status"] == 1


def test_examples_can_be_asked_for(mixed_log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_report(mixed_log, "--json", "--examples", "1")
    assert json.loads(capsys.readouterr().out)["kinds"]["visibility"]["examples"] == [2]


def test_a_behavioural_flag_in_the_record_wins_and_unknown_kinds_get_advice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(
        line("result_shape", 1, "item", "2024-05-01T10:00:00+00:00", behavioral=True)
        + "\n"
        + '{"kind": "new_kind", "lead_id": 2, "ts": "garbage"}\n'
    )
    assert run_report(path) == 1
    out = capsys.readouterr().out
    assert "look at new_kind (1), result_shape (1)" in out
    assert "new_kind: An unknown behavioural difference was logged" in out


def test_an_empty_log_is_no_differences(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    assert run_report(path) == 0
    assert "verdict: no behavioural differences in 0 deletes" in capsys.readouterr().out


def test_a_file_with_nothing_readable_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "wrong.txt"
    path.write_bytes(b"hello\n\xff\xfe\n")
    assert run_report(path) == 2
    assert "no readable difference in 2 lines" in capsys.readouterr().out


def test_a_missing_file_is_exit_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_report(tmp_path / "nope.jsonl") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "cannot read" in captured.err
    assert "nope.jsonl" in captured.err


def test_a_directory_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_report(tmp_path) == 2
    assert "cannot read" in capsys.readouterr().err


def test_the_report_reads_what_the_sink_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "d.jsonl"
    with JsonlDifferenceSink(path) as sink:
        for lead in (1, 2, 3):
            sink(Difference("result_shape", lead, Stage.ITEM, False, True, [], "shape"))
        sink(Difference("still_visible", 3, Stage.ITEM_VERIFIED, True, "exists", "deleted", "x"))
    assert run_report(path, "--json") == 1
    data = json.loads(capsys.readouterr().out)
    assert data["malformed"]["count"] == 0
    assert data["deletes"] == 3
    assert data["kinds"]["still_visible"]["examples"] == [3]
