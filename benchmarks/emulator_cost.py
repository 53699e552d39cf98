"""The emulator's own cost: throughput by number of clients, memory per request, stop().

Three measurements, each printed side by side:

1. Throughput with 1, 4 and 16 clients (`crm.lead.get` over keep-alive HTTP, bucket off).
   The emulator serves from a child process (`_portal_process.py`); each client is a process
   of its own, so no client shares a GIL with the server or another client. Rounds interleave
   the three client counts (order rotating) in short windows; the median requests/s of each
   count and the ratios to one client are printed (goal: 16 clients >= 0.9x one client).
2. Memory over many requests: the journal keeps the newest `journal_size` records, so once it
   is full the portal's traced memory after 2N more requests is about what it is after N
   (goal: <= 1.1x).
3. `Emulator.stop()`: median milliseconds over repeated start/stop (goal: about 1 ms; the old
   stdlib poll loop waited up to 10 ms).
4. A verified bulk job: `LeadShim.delete_leads` of N leads at stage `item_verified` (each batch
   also lists its leads by `@ID` through both families), bucket off (goal for N=10,000: <= 16 s;
   it took 115-240 s while list calls deep-copied the store and filters converted every id
   once per row).

Always exits 0; PASS/FAIL is for information.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import multiprocessing.connection
import statistics
import time
import tracemalloc
from urllib.parse import urlsplit

from _portal_process import PortalProcess

from b24shim.emulator import Emulator

COUNTS = (1, 4, 16)


def _client(conn: multiprocessing.connection.Connection, webhook: str) -> None:
    """One client process: on each ("run", seconds) send requests for that long, answer count."""
    url = urlsplit(webhook)
    path = url.path + "crm.lead.get"
    body = b'{"id": 1}'
    headers = {"Content-Type": "application/json"}
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    while True:
        try:
            op, seconds = conn.recv()
        except EOFError:
            return
        if op == "stop":
            return
        count = 0
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            connection.request("POST", path, body, headers)
            answer = connection.getresponse()
            answer.read()
            if answer.status != 200:
                raise RuntimeError(f"unexpected status {answer.status}")
            count += 1
        conn.send(count)


def throughput(rounds: int, window: float) -> None:
    context = multiprocessing.get_context("spawn")
    with PortalProcess(rate=0) as portal:
        portal.add_leads(1)
        pipes = []
        workers = []
        for _ in range(max(COUNTS)):
            ours, theirs = context.Pipe()
            worker = context.Process(target=_client, args=(theirs, portal.admin_webhook))
            worker.start()
            theirs.close()
            pipes.append(ours)
            workers.append(worker)
        try:
            for pipe in pipes:  # warm up every connection
                pipe.send(("run", 0.05))
            for pipe in pipes:
                pipe.recv()
            rates: dict[int, list[float]] = {count: [] for count in COUNTS}
            for number in range(rounds):
                order = COUNTS[number % 3 :] + COUNTS[: number % 3]
                for count in order:
                    for pipe in pipes[:count]:
                        pipe.send(("run", window))
                    total = sum(pipe.recv() for pipe in pipes[:count])
                    rates[count].append(total / window)
        finally:
            for pipe in pipes:
                pipe.send(("stop", 0))
            for worker in workers:
                worker.join(timeout=10)
    medians = {count: statistics.median(values) for count, values in rates.items()}
    print(f"throughput, crm.lead.get, {rounds} interleaved rounds of {window:.1f} s windows:")
    for count in COUNTS:
        ratio = medians[count] / medians[1]
        print(f"  {count:>2} clients: {medians[count]:8.0f} requests/s   {ratio:5.2f}x one client")
    verdict = "PASS" if medians[16] >= 0.9 * medians[1] else "FAIL"
    print(f"  goal: 16 clients >= 0.90x one client: {verdict}")


def memory(requests_count: int) -> None:
    """Traced memory of an in-process emulator after N and after 2N requests."""
    import requests  # noqa: PLC0415 (only this measurement uses it)

    tracemalloc.start()
    with Emulator(rate=0, journal_size=1000) as portal, requests.Session() as http:
        lead_id = portal.add_lead({"TITLE": "x"})
        url = portal.admin_webhook + "crm.lead.get"
        for _ in range(1000):  # fill the journal first: from here on it should not grow
            http.post(url, json={"id": lead_id}, timeout=10)
        sizes = []
        for _ in range(2):
            for _ in range(requests_count):
                http.post(url, json={"id": lead_id}, timeout=10)
            sizes.append(tracemalloc.get_traced_memory()[0])
    tracemalloc.stop()
    ratio = sizes[1] / sizes[0]
    print(
        f"memory, journal_size=1000 (full): {requests_count} more requests "
        f"{sizes[0] / 1e6:.2f} MB, {2 * requests_count} more {sizes[1] / 1e6:.2f} MB "
        f"({ratio:.2f}x)"
    )
    print(f"  goal: <= 1.10x: {'PASS' if ratio <= 1.10 else 'FAIL'}")


def stop_time(repeats: int) -> None:
    times = []
    for _ in range(repeats):
        portal = Emulator(rate=0).start()
        begin = time.perf_counter()
        portal.stop()
        times.append(time.perf_counter() - begin)
    median_ms = statistics.median(times) * 1000
    print(f"stop(): median {median_ms:.2f} ms over {repeats} start/stop cycles")
    print(f"  goal: <= 2 ms (was up to 10 ms): {'PASS' if median_ms <= 2 else 'FAIL'}")


def verified_bulk(count: int) -> None:
    import warnings  # noqa: PLC0415 (only this measurement uses them)

    from b24shim import LeadShim, LegacyRouteWarning, Webhook  # noqa: PLC0415

    warnings.simplefilter("ignore", LegacyRouteWarning)
    with PortalProcess(rate=0) as portal:
        ids = portal.add_leads(count)
        shim = LeadShim(Webhook(portal.admin_webhook), stage="item_verified", rate_limit=None)
        begin = time.perf_counter()
        outcomes = {result.outcome.value for result in shim.delete_leads(ids)}
        elapsed = time.perf_counter() - begin
    print(f"verified bulk job: {count} deletes at stage item_verified in {elapsed:.2f} s")
    goal = 16.0 * count / 10_000
    verdict = "PASS" if elapsed <= goal else "FAIL"
    print(f"  outcomes {sorted(outcomes)}; goal <= {goal:.1f} s: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--window", type=float, default=1.0, help="seconds per measurement")
    parser.add_argument("--requests", type=int, default=3000, help="for the memory check")
    parser.add_argument("--stops", type=int, default=50)
    parser.add_argument("--bulk", type=int, default=10_000, help="leads for the verified job")
    args = parser.parse_args()
    throughput(args.rounds, args.window)
    memory(args.requests)
    stop_time(args.stops)
    verified_bulk(args.bulk)


if __name__ == "__main__":
    main()
