"""The command line's bulk reporting: JSON lines, the summary, the progress line on a TTY."""

from __future__ import annotations

import importlib.metadata
import io
import json
import re
import sys
import threading
from pathlib import Path

import pytest
import requests
import responses

from b24shim import LeadShim
from b24shim.cli import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_OUTPUT_CLOSED,
    EXIT_USAGE,
    main,
    run_bulk,
)
from conftest import WEBHOOK, WEBHOOK_CODE

BATCH_URL = WEBHOOK + "batch.json"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def answer(results: dict[str, object], errors: dict[str, object]) -> dict[str, object]:
    return {"result": {"result": results or [], "result_error": errors or []}}


def test_results_as_json_lines_and_a_summary_with_a_progress_line_on_a_terminal(
    portal: responses.RequestsMock,
) -> None:
    portal.post(
        BATCH_URL,
        json=answer(
            {"d0": []}, {"d1": {"error": "NOT_FOUND", "error_description": "Item not found"}}
        ),
    )
    out, err = io.StringIO(), Terminal()
    status = run_bulk(LeadShim(WEBHOOK, stage="item"), ["1", "2", "x"], out, err, threading.Event())
    assert status == EXIT_FAILED
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["lead_id"], r["outcome"]) for r in lines] == [
        (1, "deleted"),
        (2, "failed"),
        (0, "failed"),
    ]
    text = err.getvalue()
    assert "\r" in text  # the progress line, drawn and then cleared
    assert "3 ids processed" in text
    assert "NOT_FOUND" in text
    assert "INVALID_ID" in text
    assert "result_shape" in text


def test_no_progress_line_when_stderr_is_not_a_terminal(portal: responses.RequestsMock) -> None:
    portal.post(BATCH_URL, json=answer({"d0": []}, {}))
    err = io.StringIO()
    status = run_bulk(LeadShim(WEBHOOK, stage="item"), ["1"], io.StringIO(), err, threading.Event())
    assert status == EXIT_OK
    assert "\r" not in err.getvalue()


def test_an_interrupted_run_sends_nothing_new_and_exits_130(
    portal: responses.RequestsMock,
) -> None:
    stop = threading.Event()
    stop.set()
    err = io.StringIO()
    status = run_bulk(LeadShim(WEBHOOK, stage="item"), ["1"], io.StringIO(), err, stop)
    assert status == EXIT_INTERRUPTED
    assert len(portal.calls) == 0
    assert "0 ids processed (stopped by Ctrl-C)" in err.getvalue()


class ClosedAfter(io.StringIO):
    """A stdout whose reader goes away after ``lines`` lines, as with ``| head``."""

    def __init__(self, lines: int) -> None:
        super().__init__()
        self.left = lines

    def write(self, text: str) -> int:
        if self.left == 0:
            raise BrokenPipeError(32, "Broken pipe")
        self.left -= 1
        return super().write(text)


def test_a_closed_stdout_counts_the_whole_batch_it_sent_and_sends_no_other(
    portal: responses.RequestsMock,
) -> None:
    portal.post(BATCH_URL, json=answer({f"d{i}": [] for i in range(50)}, {}))
    out, err = ClosedAfter(5), io.StringIO()
    ids = [str(i) for i in range(1, 121)]
    status = run_bulk(LeadShim(WEBHOOK, stage="item"), ids, out, err, threading.Event())
    assert status == EXIT_OUTPUT_CLOSED
    assert len(portal.calls) == 1  # the batch whose results were being printed; no other
    assert len(out.getvalue().splitlines()) == 5
    summary = err.getvalue()
    assert "50 ids processed (stopped: stdout was closed)" in summary
    assert "deleted         50" in summary  # not 5: all fifty are gone from the portal
    assert "not printed     45" in summary
    assert "not sent        1" in summary  # the 51st id, read to find the batch full


def test_refused_credentials_stop_the_job_and_exit_2_saying_what_to_fix(
    portal: responses.RequestsMock,
) -> None:
    refusal = {"error": "INVALID_CREDENTIALS", "error_description": "Invalid request credentials"}
    portal.post(BATCH_URL, status=401, json=refusal)
    out, err = io.StringIO(), io.StringIO()
    ids = [str(i) for i in range(1, 1001)]
    status = run_bulk(LeadShim(WEBHOOK), ids, out, err, threading.Event())
    assert status == EXIT_USAGE
    assert len(portal.calls) == 1  # not 20
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 1000
    assert {r["error"]["code"] for r in lines} == {"INVALID_CREDENTIALS"}
    text = err.getvalue()
    assert "failed          1000" in text
    assert "b24shim: error: the portal refused the credentials" in text
    assert "B24SHIM_WEBHOOK_URL" in text
    assert "no further request was sent" in text
    assert WEBHOOK_CODE not in text + out.getvalue()


def test_a_portal_that_moved_stops_the_job_and_exit_2_naming_the_new_address(
    portal: responses.RequestsMock,
) -> None:
    moved = f"https://moved.example.org/rest/7/{WEBHOOK_CODE}/batch.json"
    portal.post(BATCH_URL, status=301, headers={"Location": moved})
    out, err = io.StringIO(), io.StringIO()
    ids = [str(i) for i in range(1, 201)]
    status = run_bulk(LeadShim(WEBHOOK), ids, out, err, threading.Event())
    assert status == EXIT_USAGE
    assert len(portal.calls) == 1  # nothing re-posted to the new address, no second batch
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {r["error"]["code"] for r in lines} == {"PORTAL_MOVED"}
    text = err.getvalue()
    assert "b24shim: error: the portal redirects to another address" in text
    assert "https://moved.example.org/rest/7/***/batch.json" in text
    assert WEBHOOK_CODE not in text + out.getvalue()


def test_main_reports_configuration_errors_with_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("B24SHIM_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("B24SHIM_PORTAL_URL", raising=False)
    assert main(["delete-lead", "5"]) == 2
    assert "no portal configured" in capsys.readouterr().err


class DeletingPortal:
    """Answers every batch of deletes with success; keeps what stderr showed at each request."""

    def __init__(self, mock: responses.RequestsMock, screen: io.StringIO) -> None:
        self.screen = screen
        self.seen: list[str] = []
        mock.add_callback(responses.POST, BATCH_URL, callback=self.batch)

    def batch(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        self.seen.append(self.screen.getvalue())
        keys = json.loads(request.body or b"{}")["cmd"]
        return 200, {}, json.dumps(answer({key: [] for key in keys}, {}))


def last_drawn(screen: str) -> str:
    """What a terminal shows on its last line: the text after the last carriage return."""
    return screen.rsplit("\n", maxsplit=1)[-1].rsplit("\r", 1)[-1]


def test_the_bar_has_total_rate_and_eta_and_is_current_when_the_next_batch_goes() -> None:
    err = Terminal()
    with responses.RequestsMock() as mock:
        portal = DeletingPortal(mock, err)
        ids = [str(i) for i in range(1, 121)]
        status = run_bulk(
            LeadShim(WEBHOOK, stage="item"), ids, io.StringIO(), err, threading.Event(), total=120
        )
    assert status == EXIT_OK
    assert len(portal.seen) == 3
    # While the second batch is in flight the bar shows the first one done, not "0".
    shown = last_drawn(portal.seen[1])
    assert "50/120" in shown
    assert " ids/s" in shown
    assert re.search(r"\[\d\d:\d\d<\d\d:\d\d", shown)  # elapsed<remaining: the ETA
    assert "0 failed" in shown
    assert "100/120" in last_drawn(portal.seen[2])
    assert "120 ids processed" in err.getvalue()


def test_on_one_screen_no_json_line_is_glued_to_the_bar() -> None:
    screen = Terminal()  # stdout and stderr both the terminal
    with responses.RequestsMock() as mock:
        DeletingPortal(mock, screen)
        ids = [str(i) for i in range(1, 121)]
        run_bulk(LeadShim(WEBHOOK, stage="item"), ids, screen, screen, threading.Event())
    rows = [line for line in screen.getvalue().split("\n") if '{"' in line]
    assert len(rows) == 120
    for row in rows:
        visible = row.rsplit("\r", 1)[-1]
        assert visible.startswith("{")
        json.loads(visible)


def test_no_bar_at_all_when_stderr_is_not_a_terminal() -> None:
    err = io.StringIO()
    with responses.RequestsMock() as mock:
        DeletingPortal(mock, err)
        run_bulk(LeadShim(WEBHOOK, stage="item"), ["1", "2"], io.StringIO(), err, threading.Event())
    assert "\r" not in err.getvalue()
    assert "ids/s" not in err.getvalue()


def test_a_file_of_ids_gives_the_bar_its_total(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("# to delete\n1\n\n2\n3\n")
    err = Terminal()
    monkeypatch.setenv("B24SHIM_WEBHOOK_URL", WEBHOOK)
    monkeypatch.setenv("B24SHIM_LEAD_DELETE_STAGE", "item")
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    with responses.RequestsMock() as mock:
        portal = DeletingPortal(mock, err)
        assert main(["delete-leads", str(ids)]) == EXIT_OK
    assert "0/3" in last_drawn(portal.seen[0])


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"b24shim {importlib.metadata.version('b24shim')}\n"


def test_a_bad_rate_limit_flag_is_named_as_typed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("B24SHIM_WEBHOOK_URL", WEBHOOK)
    with pytest.raises(SystemExit) as info:
        main(["delete-leads", "--rate-limit", "fast"])
    assert info.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert "argument --rate-limit: --rate-limit must be standard, enterprise, off" in err
    assert "got 'fast'" in err
    assert "B24SHIM_RATE_LIMIT" not in err
