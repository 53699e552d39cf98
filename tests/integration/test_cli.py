"""The command line against the emulator, as a user runs it: exit codes, output, Ctrl-C."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from typing import IO, Any

import pytest

from b24shim.emulator import Emulator


def run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "b24shim", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def environment(webhook: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("B24SHIM_")}
    env.update(
        {
            "B24SHIM_WEBHOOK_URL": webhook,
            "B24SHIM_RATE_LIMIT": "off",
            "PYTHONWARNINGS": "ignore::DeprecationWarning",
        }
    )
    env.update(extra)
    return env


def test_delete_lead_prints_the_result_and_exits_by_outcome(b24_emulator: Emulator) -> None:
    env = environment(b24_emulator.admin_webhook, B24SHIM_LEAD_DELETE_STAGE="item")
    lead = b24_emulator.add_lead()
    done = run(["delete-lead", str(lead)], env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["outcome"], result["method"], result["lead_id"]) == (
        "deleted",
        "crm.item.delete",
        lead,
    )
    again = run(["delete-lead", str(lead), "--stage", "legacy"], env)
    assert again.returncode == 1
    assert json.loads(again.stdout)["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("warnings_setting", ["", "error", "ignore::DeprecationWarning"])
def test_the_legacy_route_is_one_note_line_never_a_warning_dump(
    b24_emulator: Emulator, warnings_setting: str
) -> None:
    leads = [b24_emulator.add_lead() for _ in range(3)]
    env = environment(b24_emulator.admin_webhook, PYTHONWARNINGS=warnings_setting)
    done = run(["delete-leads"], env, stdin="".join(f"{lead}\n" for lead in leads))
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if "crm.lead.delete" in line]
    assert len(notes) == 1
    assert notes[0].startswith("b24shim: note: crm.lead.delete is deprecated")
    assert "Warning" not in done.stderr
    assert "sys.exit" not in done.stderr


def test_an_unknown_variable_is_a_note_naming_the_real_one(b24_emulator: Emulator) -> None:
    env = environment(b24_emulator.admin_webhook, B24SHIM_STAGE="item")
    done = run(["delete-lead", str(b24_emulator.add_lead())], env)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[0] == (
        "b24shim: note: B24SHIM_STAGE is not a b24shim setting and is ignored; "
        "did you mean B24SHIM_LEAD_DELETE_STAGE?"
    )
    assert json.loads(done.stdout)["stage"] == "legacy"


def test_no_note_for_leads_kept_on_legacy_by_item_percent(b24_emulator: Emulator) -> None:
    env = environment(
        b24_emulator.admin_webhook, B24SHIM_LEAD_DELETE_STAGE="item", B24SHIM_ITEM_PERCENT="0"
    )
    done = run(["delete-lead", str(b24_emulator.add_lead())], env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["method"] == "crm.lead.delete"
    assert done.stderr == ""


@pytest.mark.parametrize(
    ("args", "extra", "message"),
    [
        (["delete-lead", "12abc"], {}, "not a lead id"),
        (["delete-lead", "5"], {"B24SHIM_LEAD_DELETE_STAGE": "itme"}, "B24SHIM_LEAD_DELETE_STAGE"),
        (["delete-lead", "5"], {"B24SHIM_WEBHOOK_URL": "nope"}, "B24SHIM_WEBHOOK_URL"),
        (["delete-lead"], {}, "usage"),
        (["delete-leads", "/no/such/file"], {}, "cannot read"),
    ],
)
def test_bad_usage_and_configuration_exit_2(
    b24_emulator: Emulator, args: list[str], extra: dict[str, str], message: str
) -> None:
    done = run(args, environment(b24_emulator.admin_webhook, **extra))
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""


def test_delete_leads_from_stdin(b24_emulator: Emulator) -> None:
    leads = [b24_emulator.add_lead() for _ in range(120)]
    lines = "\n".join(str(x) for x in leads) + "\n\n# a comment\n999999\n12abc\n"
    done = run(
        ["delete-leads", "--stage", "item_verified"],
        environment(b24_emulator.admin_webhook),
        stdin=lines,
    )
    assert done.returncode == 1  # two ids failed
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["outcome"] for r in results] == ["deleted"] * 120 + ["failed", "failed"]
    assert [r["error"]["code"] for r in results[-2:]] == ["NOT_FOUND", "INVALID_ID"]
    summary = done.stderr
    assert "122 ids processed" in summary
    assert "deleted         120" in summary
    assert "NOT_FOUND" in summary
    assert "INVALID_ID" in summary
    assert "result_shape" in summary
    batches = [r for r in b24_emulator.requests if r.method == "batch"]
    # ceil(121 / 47) verified chunks, and one extra batch of gets for the chunk whose delete
    # failed where its lists could not tell missing from unreadable (999999).
    assert len(batches) == 4
    assert set(batches[-1].params["cmd"].values()) == {
        "crm.lead.get?id=999999",
        "crm.item.get?entityTypeId=1&id=999999",
    }
    assert not any(b24_emulator.lead_exists(x) for x in leads)


def test_delete_leads_from_a_file_all_ok(b24_emulator: Emulator, tmp_path: Any) -> None:
    leads = [b24_emulator.add_lead() for _ in range(3)]
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(map(str, leads)))
    done = run(["delete-leads", str(ids)], environment(b24_emulator.admin_webhook))
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 3


def delete_leads_process(env: dict[str, str]) -> subprocess.Popen[str]:
    """``b24shim delete-leads`` reading stdin, with every stream a pipe."""
    return subprocess.Popen(
        [sys.executable, "-m", "b24shim", "delete-leads"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def read_lines(stream: IO[str], count: int, timeout: float) -> list[str]:
    """Read ``count`` lines in a thread (select cannot see Python's read-ahead buffer)."""
    lines: queue.Queue[str] = queue.Queue()

    def reader() -> None:
        for _ in range(count):
            line = stream.readline()
            if not line:
                return
            lines.put(line)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    thread.join(timeout)
    return [lines.get() for _ in range(lines.qsize())]


def test_ctrl_c_lets_the_batch_in_flight_finish_and_sends_nothing_new(
    b24_emulator: Emulator,
) -> None:
    leads = [b24_emulator.add_lead() for _ in range(70)]
    with delete_leads_process(environment(b24_emulator.admin_webhook)) as process:
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write("".join(f"{lead}\n" for lead in leads[:60]))
        process.stdin.flush()
        # The first batch (50 ids) is done once its 50 lines are out; ids 51..60 wait for the
        # next one, which is never sent. stdin stays open: Ctrl-C must not wait for input.
        first = read_lines(process.stdout, 50, timeout=20)
        assert len(first) == 50
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    done = [json.loads(line) for line in first + out.splitlines()]
    assert [r["lead_id"] for r in done] == leads[:50]
    assert all(r["outcome"] == "deleted" for r in done)
    assert "50 ids processed (stopped by Ctrl-C)" in err
    assert re.search(r"not sent +([1-9]|10) \(read before the stop\)", err)
    assert sum(r.method == "batch" for r in b24_emulator.requests) == 1
    assert all(b24_emulator.lead_exists(x) for x in leads[50:])


def test_a_wrong_webhook_code_stops_at_the_first_answer_and_exits_2(
    b24_emulator: Emulator, tmp_path: Any
) -> None:
    leads = [b24_emulator.add_lead() for _ in range(200)]
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(f"{lead}\n" for lead in leads))
    wrong = re.sub(r"/rest/(\d+)/[^/]+/", r"/rest/\1/wrongcode/", b24_emulator.admin_webhook)
    done = run(["delete-leads", str(ids)], environment(wrong))
    assert done.returncode == 2
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(results) == 200
    assert {r["error"]["code"] for r in results} == {"INVALID_CREDENTIALS"}
    assert len(b24_emulator.requests) == 1  # not 4
    assert "b24shim: error: the portal refused the credentials" in done.stderr
    assert "B24SHIM_WEBHOOK_URL" in done.stderr
    assert "Traceback" not in done.stderr
    assert all(b24_emulator.lead_exists(x) for x in leads)
    one = run(["delete-lead", str(leads[0])], environment(wrong))
    assert one.returncode == 2
    assert "the portal refused the credentials" in one.stderr


def test_a_closed_stdout_still_counts_the_deletes_of_the_batch_sent(
    b24_emulator: Emulator,
) -> None:
    leads = [b24_emulator.add_lead() for _ in range(60)]
    with delete_leads_process(environment(b24_emulator.admin_webhook)) as process:
        assert process.stdout is not None
        process.stdout.close()  # like `| head` that has read enough before the first line
        _, err = process.communicate("".join(f"{lead}\n" for lead in leads), timeout=30)
    assert process.returncode == 141, err
    assert "Traceback" not in err
    assert "Exception ignored" not in err
    assert "50 ids processed (stopped: stdout was closed)" in err
    assert "deleted         50" in err
    assert "not printed     50" in err
    assert sum(r.method == "batch" for r in b24_emulator.requests) == 1
    assert sum(b24_emulator.lead_exists(x) for x in leads) == 10


def run_demo() -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("B24SHIM_")}
    return subprocess.run(
        [sys.executable, "-m", "b24shim", "demo"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_the_demo_runs_every_stage_on_the_embedded_emulator() -> None:
    started = time.monotonic()
    done = run_demo()
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 30
    for stage in ("legacy ", "legacy_verified", "item_verified", "item "):
        assert stage in done.stdout
    assert "fallback!" in done.stdout
    assert "outcome!" in done.stdout
    assert "Differences found:" in done.stdout
    assert done.stderr == ""
    # It ends with the report's verdict on what it just did.
    tail = done.stdout.rstrip().splitlines()[-3:]
    assert tail[0] == "b24shim report on this run's evidence log (17 deletes):"
    assert tail[1].startswith("  verdict: DIFFERENCES: behavioural differences in 1 of 8 verified")
    assert "fallback (2), outcome (1)" in tail[1]


def test_the_demo_agrees_with_itself_about_the_not_found_answer() -> None:
    # The legacy rows show the portal's own not-found answer; the item rows' legacy-shaped
    # answer (to_legacy) must be the same, or code checking the text would change behaviour.
    done = run_demo()
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("delete a missing lead")]
    assert len(rows) == 4
    assert all("  400 ERROR_CORE 'Item not found'  " in row for row in rows), rows
    assert "'Not found'" not in done.stdout


def test_a_closed_pipe_stops_quietly() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("B24SHIM_")}
    with subprocess.Popen(
        [sys.executable, "-m", "b24shim", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as process:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("b24shim demo")
        process.stdout.close()  # like `b24shim demo | head -1`
        _, err = process.communicate(timeout=60)
    assert "Traceback" not in err
    assert process.returncode in (0, 141)  # 141: stopped by the closed pipe, as Unix tools
