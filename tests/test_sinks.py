"""The JSON-lines differences log: one intact line per difference, from threads and processes."""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import responses
from responses import matchers

from b24shim import (
    ConfigError,
    DeleteResult,
    Difference,
    ErrorCode,
    ErrorInfo,
    LeadShim,
    Outcome,
    Route,
    Stage,
)
from b24shim.emulator import ManualClock
from b24shim.sinks import JsonlDifferenceSink
from conftest import WEBHOOK


def difference(lead_id: int, kind: str = "result_shape", detail: str = "") -> Difference:
    return Difference(
        kind=kind,
        lead_id=lead_id,
        stage=Stage.ITEM,
        behavioral=kind != "result_shape",
        legacy=True,
        item=[],
        detail=detail or f"crm.item.delete answered [] for lead {lead_id}",
    )


def read_lines(path: Path) -> list[dict[str, object]]:
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    return [json.loads(line) for line in raw.decode("utf-8").splitlines()]


def test_each_difference_is_one_json_line_with_a_utc_timestamp(tmp_path: Path) -> None:
    path = tmp_path / "differences.jsonl"
    moment = datetime(2024, 1, 20, 18, 35, 32, 500000, tzinfo=timezone(timedelta(hours=1)))
    with JsonlDifferenceSink(path, clock=lambda: moment) as sink:
        sink(difference(5, detail="Элемент не найден"))
        sink(difference(6, kind="fallback"))
    first, second = read_lines(path)
    assert first == {
        "record": "difference",
        **difference(5, detail="Элемент не найден").to_dict(),
        "ts": ("2024-01-20T17:35:32.500000+00:00"),
    }
    assert second["kind"] == "fallback"
    assert second["behavioral"] is True
    assert datetime.fromisoformat(str(second["ts"])).utcoffset() == timedelta(0)


def test_the_sink_appends_to_an_existing_log(tmp_path: Path) -> None:
    path = tmp_path / "differences.jsonl"
    path.write_text('{"kind": "result_shape", "lead_id": 1}\n')
    with JsonlDifferenceSink(str(path)) as sink:
        sink(difference(2))
    assert [line["lead_id"] for line in read_lines(path)] == [1, 2]


def test_the_path_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "from-env.jsonl"
    monkeypatch.setenv("B24SHIM_DIFFERENCE_LOG", str(path))
    with JsonlDifferenceSink() as sink:
        sink(difference(3))
    assert sink.path == str(path)
    assert read_lines(path)[0]["lead_id"] == 3


def test_no_path_anywhere_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        JsonlDifferenceSink(environ={})
    assert info.value.setting == "B24SHIM_DIFFERENCE_LOG"


def test_an_unwritable_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        JsonlDifferenceSink(environ={"B24SHIM_DIFFERENCE_LOG": str(tmp_path / "no" / "x.jsonl")})
    assert info.value.setting == "B24SHIM_DIFFERENCE_LOG"
    assert "cannot be opened for appending" in str(info.value)


def test_a_closed_sink_refuses_and_the_shim_only_logs_it(
    tmp_path: Path, portal: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    sink = JsonlDifferenceSink(tmp_path / "d.jsonl")
    sink.close()
    sink.close()
    assert sink.closed
    assert "closed" in repr(sink)
    with pytest.raises(ValueError, match="closed"):
        sink(difference(1))
    portal.post(
        WEBHOOK + "crm.item.delete.json",
        json={"result": []},
        match=[matchers.json_params_matcher({"entityTypeId": 1, "id": 5})],
    )
    result = LeadShim(WEBHOOK, stage="item", on_difference=sink).delete_lead(5)
    assert result.ok
    assert "on_difference callback failed" in caplog.text


def test_the_shim_writes_its_differences_to_the_sink(
    tmp_path: Path, portal: responses.RequestsMock
) -> None:
    path = tmp_path / "d.jsonl"
    portal.post(WEBHOOK + "crm.item.delete.json", json={"result": []})
    with JsonlDifferenceSink(path) as sink:
        result = LeadShim(WEBHOOK, stage="item", on_difference=sink).delete_lead(5)
    line, delete = read_lines(path)
    assert line["kind"] == "result_shape"
    assert line["lead_id"] == 5
    assert line["stage"] == "item"
    assert {k: v for k, v in line.items() if k not in ("ts", "record")} == (
        result.differences[0].to_dict()
    )
    assert line["record"] == "difference"
    assert delete["record"] == "delete"


THREADS, PER_THREAD = 8, 250
PROCESSES, PER_PROCESS = 4, 300
LONG = "x" * 3000  # lines far above a pipe's atomic size, to catch interleaving


def test_threads_appending_at_once_lose_and_tear_nothing(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    barrier = threading.Barrier(THREADS)
    with JsonlDifferenceSink(path) as sink:

        def work(worker: int) -> None:
            barrier.wait()
            for i in range(PER_THREAD):
                sink(difference(worker * 10_000 + i, detail=LONG))

        threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    lines = read_lines(path)
    assert len(lines) == THREADS * PER_THREAD
    assert sorted(int(str(line["lead_id"])) for line in lines) == sorted(
        w * 10_000 + i for w in range(THREADS) for i in range(PER_THREAD)
    )
    assert all(line["detail"] == LONG for line in lines)


def _append_from_process(path: str, worker: int, start: object) -> None:
    sink = JsonlDifferenceSink(path)
    start.wait()  # type: ignore[attr-defined]
    for i in range(PER_PROCESS):
        sink(difference(worker * 10_000 + i, detail=LONG))
    sink.close()


def run_processes(target: Callable[[str, int, object], None], path: str) -> None:
    """Run ``target`` in PROCESSES spawned processes, released at once; all must succeed."""
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [context.Process(target=target, args=(path, n, start)) for n in range(PROCESSES)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(timeout=60)
    assert [w.exitcode for w in workers] == [0] * PROCESSES


def test_processes_appending_at_once_lose_and_tear_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "d.jsonl")
    run_processes(_append_from_process, path)
    lines = read_lines(Path(path))
    assert len(lines) == PROCESSES * PER_PROCESS
    assert sorted(int(str(line["lead_id"])) for line in lines) == sorted(
        w * 10_000 + i for w in range(PROCESSES) for i in range(PER_PROCESS)
    )
    assert all(line["detail"] == LONG for line in lines)


def biggest_delete() -> DeleteResult:
    return DeleteResult(
        lead_id=2_147_483_647,
        outcome=Outcome.UNKNOWN,
        stage=Stage.LEGACY_VERIFIED,
        route=Route.LEGACY,
        error=ErrorInfo(ErrorCode.INTERNAL_SERVER_ERROR, "INTERNAL_SERVER_ERROR", "x" * 500),
    )


def test_each_delete_is_one_short_line_with_what_the_report_needs(tmp_path: Path) -> None:
    path = tmp_path / "evidence.jsonl"
    moment = datetime(2026, 12, 1, 10, 0, 0, 1, tzinfo=timezone.utc)
    with JsonlDifferenceSink(path, clock=lambda: moment) as sink:
        sink.record_delete(biggest_delete(), verified=True, duration=12345.6789012)
        sink.record_delete(
            DeleteResult(lead_id=5, outcome=Outcome.DELETED, stage=Stage.ITEM, route=Route.ITEM),
            verified=False,
        )
        typical = DeleteResult(
            lead_id=1_234_567_890,
            outcome=Outcome.DELETED,
            stage=Stage.LEGACY_VERIFIED,
            route=Route.LEGACY,
        )
        sink.record_delete(typical, verified=True, duration=0.1234567)
    worst, _, usual = (len(line) + 1 for line in path.read_bytes().splitlines())
    assert usual <= 200  # a verified delete of a ten-digit lead, newline included
    assert worst <= 220  # the longest stage, outcome and code, a 31-bit id, a 3-hour delete
    first, second, _ = read_lines(path)
    assert first == {
        "record": "delete",
        "lead_id": 2_147_483_647,
        "stage": "legacy_verified",
        "route": "legacy",
        "outcome": "unknown",
        "verified": True,
        "code": "INTERNAL_SERVER_ERROR",
        "duration_ms": 12345678.901,
        "ts": "2026-12-01T10:00:00.000001+00:00",
    }
    assert (second["outcome"], second["code"], second["duration_ms"]) == ("deleted", None, None)


def test_the_shim_records_every_delete_with_its_duration(
    tmp_path: Path, portal: responses.RequestsMock
) -> None:
    path = tmp_path / "evidence.jsonl"
    portal.post(WEBHOOK + "crm.lead.delete.json", json={"result": True})
    clock = ManualClock()
    with JsonlDifferenceSink(path) as sink:
        shim = LeadShim(WEBHOOK, stage="legacy", on_difference=sink, rate_limit=None, clock=clock)
        shim.delete_lead(5)
    (line,) = read_lines(path)
    assert (line["record"], line["lead_id"], line["verified"], line["code"]) == (
        "delete",
        5,
        False,
        None,
    )
    assert line["duration_ms"] == 0.0  # the manual clock did not move


def test_a_failing_delete_record_is_logged_never_raised(
    portal: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        def __call__(self, difference: Difference) -> None:
            pass

        def record_delete(self, result: DeleteResult, **_: object) -> None:
            raise OSError("disk full")

    portal.post(WEBHOOK + "crm.lead.delete.json", json={"result": True})
    result = LeadShim(WEBHOOK, on_difference=Broken(), rate_limit=None).delete_lead(5)
    assert result.ok
    assert "recording the delete of lead 5 failed" in caplog.text


def _deletes_from_process(path: str, worker: int, start: object) -> None:
    sink = JsonlDifferenceSink(path)
    start.wait()  # type: ignore[attr-defined]
    for i in range(PER_PROCESS):
        result = DeleteResult(
            lead_id=worker * 10_000 + i, outcome=Outcome.DELETED, stage=Stage.ITEM, route=Route.ITEM
        )
        sink.record_delete(result, verified=False, duration=0.01)
        sink(difference(worker * 10_000 + i))
    sink.close()


def test_processes_appending_deletes_and_differences_lose_and_tear_nothing(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "evidence.jsonl")
    run_processes(_deletes_from_process, path)
    lines = read_lines(Path(path))
    assert len(lines) == 2 * PROCESSES * PER_PROCESS
    deletes = sorted(int(str(line["lead_id"])) for line in lines if line["record"] == "delete")
    assert deletes == sorted(w * 10_000 + i for w in range(PROCESSES) for i in range(PER_PROCESS))
