"""`python -m b24shim.emulator` / `b24shim emulator` from the command line."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys

import pytest
import requests

from b24shim.emulator import _cli


def stop_cleanly(process: subprocess.Popen[str], stop_signal: int = signal.SIGTERM) -> None:
    """Stop a serving emulator with a signal; it must exit 0 without a traceback."""
    if process.poll() is None:
        process.send_signal(stop_signal)
    try:
        _, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert "Traceback" not in stderr


def _start(*flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "b24shim.emulator", "--port", "0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_serves_then_stops_cleanly(stop_signal):
    process = _start("--leads", "3", "--no-item-api")
    try:
        admin = process.stdout.readline().split()
        restricted = process.stdout.readline().split()
        assert admin[0] == "admin"
        assert restricted[0] == "restricted"
        assert admin[1].startswith("http://127.0.0.1:")
        assert "/rest/1/" in admin[1]
        assert "/rest/2/" in restricted[1]
        with requests.Session() as http:
            listed = http.post(admin[1] + "crm.lead.list", timeout=10).json()
            assert listed["total"] == 3
            item = http.post(admin[1] + "crm.item.list", json={"entityTypeId": 1}, timeout=10)
            assert item.status_code == 404
            denied = http.post(restricted[1] + "crm.lead.delete", json={"id": 1}, timeout=10)
            assert denied.json()["error_description"] == "Access denied."
    finally:
        stop_cleanly(process, stop_signal)


def test_rejects_a_bad_fault_rate():
    process = subprocess.run(
        [sys.executable, "-m", "b24shim.emulator", "--fault-rate", "1.5"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert process.returncode == 2
    assert "--fault-rate" in process.stderr


def test_add_arguments_defaults():
    parser = argparse.ArgumentParser()
    _cli.add_arguments(parser)
    args = parser.parse_args([])
    assert (args.port, args.host, args.rate, args.burst, args.operating_limit) == (
        0,
        "127.0.0.1",
        2.0,
        50,
        480.0,
    )
    assert (args.no_item_api, args.fault_rate, args.fault_seed, args.leads) == (False, 0.0, 0, 0)
    args = parser.parse_args(["--fault-rate", "0.25", "--fault-seed", "4", "--rate", "0"])
    assert (args.fault_rate, args.fault_seed, args.rate) == (0.25, 4, 0.0)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--connection-timeout", "0"], "--connection-timeout"),
        (["--journal-size", "0"], "--journal-size"),
        (["--legacy-not-found", "core"], "--legacy-not-found"),
    ],
)
def test_rejects_bad_new_flags(flags, message):
    process = subprocess.run(
        [sys.executable, "-m", "b24shim.emulator", *flags],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert process.returncode == 2
    assert message in process.stderr
