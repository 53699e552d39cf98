"""The command line's bulk reporting: JSON lines, the summary, the progress line on a TTY."""

from __future__ import annotations

import io
import json
import threading

import pytest
import responses

from b24shim import LeadShim
from b24shim.cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, main, run_bulk
from conftest import WEBHOOK

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


def test_an_interrupted_run_that_failed_nothing_exits_130(portal: responses.RequestsMock) -> None:
    portal.post(BATCH_URL, json=answer({"d0": []}, {}))
    stop = threading.Event()
    stop.set()
    err = io.StringIO()
    status = run_bulk(LeadShim(WEBHOOK, stage="item"), ["1"], io.StringIO(), err, stop)
    assert status == EXIT_INTERRUPTED
    assert "stopped by Ctrl-C" in err.getvalue()


def test_main_reports_configuration_errors_with_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("B24SHIM_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("B24SHIM_PORTAL_URL", raising=False)
    assert main(["delete-lead", "5"]) == 2
    assert "no portal configured" in capsys.readouterr().err
