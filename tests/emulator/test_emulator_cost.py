"""Bounded cost: HTTPS, the capped journal, connection timeouts, body and batch-answer caps."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import requests

from b24shim.emulator import Emulator
from b24shim.emulator._batch import MAX_ANSWER_BYTES, AnswerTooLarge, json_size
from b24shim.emulator._server import MAX_BODY

from .test_emulator_cli import stop_cleanly


def _raw(portal: Emulator, data: bytes, *, timeout: float = 10) -> bytes:
    """Send raw bytes on a new connection; return everything until the server closes it."""
    with socket.create_connection((portal.host, portal.port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def _headers(portal: Emulator, extra: str) -> bytes:
    path = portal.admin_webhook.split(str(portal.port), 1)[1]
    return f"POST {path}crm.lead.add HTTP/1.1\r\nHost: x\r\n{extra}\r\n".encode()


def test_https_serves_with_its_own_ca(make_portal, call):
    portal = make_portal(tls=True)
    assert portal.admin_webhook.startswith("https://127.0.0.1:")
    assert portal.token_url.startswith("https://")
    with open(portal.ca_bundle, encoding="ascii") as pem:
        assert pem.read().startswith("-----BEGIN CERTIFICATE-----")
    answer = requests.post(portal.admin_webhook + "crm.deal.add", verify=portal.ca_bundle)
    assert answer.json()["result"] == 1
    with pytest.raises(requests.exceptions.SSLError):
        requests.post(portal.admin_webhook + "crm.deal.list", timeout=10)


def test_require_https_is_met_over_tls(make_portal):
    portal = make_portal(tls=True, require_https=True)
    answer = requests.post(portal.admin_webhook + "crm.lead.list", verify=portal.ca_bundle)
    assert answer.status_code == 200


def test_the_ca_file_goes_with_the_portal_and_plain_http_has_none():
    portal = Emulator(rate=0, tls=True)
    with pytest.raises(RuntimeError, match="start"):
        _ = portal.ca_bundle
    with portal:
        path = portal.ca_bundle
        assert os.path.exists(path)
    assert not os.path.exists(path)
    with Emulator(rate=0) as plain, pytest.raises(RuntimeError, match="tls=True"):
        _ = plain.ca_bundle


def test_a_stalled_tls_handshake_is_dropped_after_the_timeout(make_portal):
    portal = make_portal(tls=True, connection_timeout=0.2)
    assert _raw(portal, b"") == b""  # no ClientHello: closed, nothing sent
    answer = requests.post(portal.admin_webhook + "crm.lead.list", verify=portal.ca_bundle)
    assert answer.ok  # the server still serves others


def test_the_journal_keeps_the_newest_requests(make_portal, call):
    portal = make_portal(journal_size=3)
    for number in range(5):
        call(portal.admin_webhook, "crm.lead.add", json={"fields": {"TITLE": str(number)}})
    titles = [record.params["fields"]["TITLE"] for record in portal.requests]
    assert titles == ["2", "3", "4"]
    assert portal.requests_dropped == 2
    portal.clear_requests()
    assert portal.requests == []
    assert portal.requests_dropped == 0
    assert portal.get_lead(1)["TITLE"] == "0"  # data stay


def test_the_journal_over_http_needs_the_admin_code(portal: Emulator, call):
    call(portal.admin_webhook, "crm.lead.list")
    body = requests.get(portal.journal_url, timeout=10).json()
    assert [record["method"] for record in body["records"]] == ["crm.lead.list"]
    assert (body["dropped"], body["limit"]) == (0, 10_000)
    cleared = requests.get(portal.journal_url + "&clear=1", timeout=10).json()
    assert len(cleared["records"]) == 1
    assert portal.requests == []
    wrong = requests.get(portal.journal_url.split("?")[0] + "?code=nope", timeout=10)
    assert wrong.status_code == 401
    assert "records" not in wrong.json()


@pytest.mark.parametrize(
    "bad", [b"-1", b"zz", b"-8000000"], ids=["minus-one", "not-hex", "negative"]
)
def test_a_bad_chunk_size_is_refused_without_reading_on(portal: Emulator, bad):
    request = _headers(portal, "Transfer-Encoding: chunked\r\n") + bad + b"\r\n" + b"x" * 1000
    answer = _raw(portal, request)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"<center>nginx</center>" in answer
    assert portal.requests == []


def test_chunks_past_the_body_cap_are_refused_as_too_large(portal: Emulator):
    size = f"{MAX_BODY + 1:x}".encode()
    answer = _raw(portal, _headers(portal, "Transfer-Encoding: chunked\r\n") + size + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 413 Request Entity Too Large")
    assert portal.get_lead(1) is None


def test_a_content_length_past_the_body_cap_is_refused_as_too_large(portal: Emulator):
    answer = _raw(portal, _headers(portal, f"Content-Length: {MAX_BODY + 1}\r\n"))
    assert answer.startswith(b"HTTP/1.1 413 ")


def test_idle_and_half_sent_connections_are_closed(make_portal):
    portal = make_portal(connection_timeout=0.2)
    assert _raw(portal, b"") == b""  # idle: closed without an answer
    half = _headers(portal, "Content-Length: 100\r\n") + b'{"fields":'
    assert _raw(portal, half) == b""  # the body never completes: closed
    assert portal.get_lead(1) is None
    assert requests.post(portal.admin_webhook + "crm.lead.list", timeout=10).ok


def test_batch_splicing_cannot_blow_up_the_answer(portal: Emulator, call):
    # Each add nests the previous lead twice, and the get after it reads that back: the
    # answer would double 24 times (a request of about 3 KB asking for gigabytes).
    cmd = {"a0": "crm.lead.add?fields[TITLE]=x", "g0": "crm.lead.get?id=$result[a0]"}
    for number in range(1, 25):
        lead = f"$result[g{number - 1}]"
        cmd[f"a{number}"] = f"crm.lead.add?fields[UF_CRM_A]={lead}&fields[UF_CRM_B]={lead}"
        cmd[f"g{number}"] = f"crm.lead.get?id=$result[a{number}]"
    assert len(json.dumps(cmd)) < 4000
    answer = call(portal.admin_webhook, "batch", json={"cmd": cmd})
    assert (answer.status_code, answer.json()) == (
        500,
        {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal server error"},
    )
    assert len(answer.content) < 1000
    # commands that ran before the refusal keep their effects, as on the portal
    assert portal.lead_exists(1)


def test_json_size_stops_at_the_budget_on_shared_structures():
    value: list[object] = ["x" * 10]
    for _ in range(60):  # 2**60 leaves, shared
        value = [value, value]
    with pytest.raises(AnswerTooLarge):
        json_size(value, MAX_ANSWER_BYTES)
    assert json_size({"a": [1, "bc"]}, 100) < 100


def _start(*flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "b24shim.emulator", "--port", "0", "--rate", "0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _lines(process: subprocess.Popen[str], until: str) -> dict[str, str]:
    lines: dict[str, str] = {}
    order = []
    while True:
        name, _, value = process.stdout.readline().rstrip("\n").partition(" ")
        lines[name] = value
        order.append(name)
        if name == until:
            lines["_order"] = " ".join(order)
            return lines


def _run_cli(*flags: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "b24shim.emulator", *flags],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_the_command_line_over_tls_prints_https_webhooks_and_the_ca_then_a_journal():
    process = _start("--tls", "--legacy-not-found", "docs", "--journal-size", "5")
    try:
        lines = _lines(process, "serving")
        assert lines["_order"].startswith("admin restricted extranet ca journal")
        assert lines["admin"].startswith("https://127.0.0.1:")
        assert lines["restricted"].startswith("https://")
        ca = lines["ca"]
        missing = requests.post(lines["admin"] + "crm.lead.delete", json={"id": 9}, verify=ca)
        assert missing.json() == {"error": "", "error_description": "Not found"}
        done = _run_cli("--journal", lines["journal"], env={"REQUESTS_CA_BUNDLE": ca})
        assert done.returncode == 0, done.stderr
        records = [json.loads(line) for line in done.stdout.splitlines()]
        assert [(r["method"], r["status"], r["params"]) for r in records] == [
            ("crm.lead.delete", 400, {"id": 9})
        ]
        cleared = _run_cli("--clear-journal", lines["journal"], env={"REQUESTS_CA_BUNDLE": ca})
        assert len(cleared.stdout.splitlines()) == 1
        again = _run_cli("--journal", lines["journal"], env={"REQUESTS_CA_BUNDLE": ca})
        assert again.stdout == ""
    finally:
        stop_cleanly(process)
    assert not os.path.exists(ca)


def test_reading_the_journal_of_nothing_fails_without_echoing_the_url():
    done = _run_cli("--journal", "http://127.0.0.1:9/_emulator/journal?code=secretcode")
    assert done.returncode == 2
    assert "secretcode" not in done.stderr
    assert "cannot read the journal" in done.stderr


def test_expect_100_continue_and_http_1_0_close(portal: Emulator):
    body = b'{"fields": {"TITLE": "curl"}}'
    head = _headers(
        portal,
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Expect: 100-continue\r\nConnection: close\r\n",
    )
    answer = _raw(portal, head + body)
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")
    assert b"Connection: close" in answer
    assert portal.get_lead(1)["TITLE"] == "curl"
    old = _headers(portal, "Content-Length: 0\r\n").replace(b"HTTP/1.1", b"HTTP/1.0", 1)
    assert b'"result":2' in _raw(portal, old)  # HTTP/1.0 without keep-alive: answered, closed
