"""The emulator in a child process, driven over a pipe: the benchmarks' portal.

The client under measurement gets this interpreter to itself: its timings do not share a GIL
with the server's threads, and ``tracemalloc`` here sees the client's memory only (the
emulator keeps a recycle bin, an event log and a request journal that grow with every delete).
The child is the ordinary :class:`b24shim.emulator.Emulator`; this module only forwards the
few calls the benchmarks need.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
from types import TracebackType
from typing import Any

import requests

from b24shim.emulator import Emulator
from b24shim.emulator._server import PortalServer

__all__ = ["PortalProcess"]

#: Seconds to wait for the child to answer one call (creating 10,000 leads takes about 1 s).
_ANSWER_TIMEOUT = 120.0


def _serve(
    conn: multiprocessing.connection.Connection, settings: dict[str, Any], backlog: int | None
) -> None:
    """The child: one Emulator, answering calls from the pipe until told to stop."""
    if backlog is not None:
        PortalServer.request_queue_size = backlog  # socketserver's listen() backlog
    with Emulator(**settings) as portal:
        conn.send(("ok", portal.admin_webhook))
        while True:
            try:
                op, arg = conn.recv()
            except EOFError:  # the parent is gone
                return
            if op == "stop":
                conn.send(("ok", None))
                return
            try:
                if op == "add_leads":
                    answer: Any = [portal.add_lead({"TITLE": f"bench {i}"}) for i in range(arg)]
                elif op == "requests":
                    answer = [(record.method, record.status) for record in portal.requests]
                elif op == "journal":
                    answer = [(record.status, record.ts) for record in portal.requests]
                elif op == "reset_counters":
                    portal.reset_counters()
                    answer = None
                elif op == "existing":
                    answer = sum(1 for lead_id in arg if portal.lead_exists(lead_id))
                elif op == "leads_left":
                    # Over HTTP, as a client would ask; the refill keeps it clear of the bucket.
                    portal.reset_counters()
                    url = f"{portal.admin_webhook}crm.lead.list.json"
                    body = requests.post(url, json={"select": ["ID"]}, timeout=30).json()
                    answer = int(body["total"])
                else:
                    raise ValueError(f"unknown call {op!r}")
            except Exception as exc:
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
            else:
                conn.send(("ok", answer))


class PortalProcess:
    """An :class:`~b24shim.emulator.Emulator` with ``settings``, serving from a child process.

    Use it as a context manager; ``admin_webhook`` is set once it runs. ``backlog``, when
    given, replaces the listen backlog of the emulator's server (the stdlib's 5) in the child.
    """

    def __init__(self, *, backlog: int | None = None, **settings: Any) -> None:
        self.settings = settings
        self.backlog = backlog
        self.admin_webhook = ""
        self._conn: multiprocessing.connection.Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None

    def __enter__(self) -> PortalProcess:
        context = multiprocessing.get_context("spawn")  # no threads or sockets inherited
        ours, theirs = context.Pipe()
        process = context.Process(
            target=_serve,
            args=(theirs, self.settings, self.backlog),
            name="bench-emulator",
            daemon=True,
        )
        process.start()
        theirs.close()
        self._conn, self._process = ours, process
        self.admin_webhook = self._answer()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, process = self._conn, self._process
        self._conn = self._process = None
        if conn is None or process is None:
            return
        try:
            conn.send(("stop", None))
            if conn.poll(10):
                conn.recv()
        except (OSError, EOFError):
            pass
        conn.close()
        process.join(timeout=10)
        if process.is_alive():
            process.terminate()  # this benchmark's own child, by handle
            process.join(timeout=5)

    def _call(self, op: str, arg: Any = None) -> Any:
        if self._conn is None:
            raise RuntimeError("the portal process is not running: use `with PortalProcess():`")
        self._conn.send((op, arg))
        return self._answer()

    def _answer(self) -> Any:
        assert self._conn is not None
        if not self._conn.poll(_ANSWER_TIMEOUT):
            raise RuntimeError(f"the emulator process did not answer in {_ANSWER_TIMEOUT:.0f} s")
        status, value = self._conn.recv()
        if status != "ok":
            raise RuntimeError(f"the emulator process failed: {value}")
        return value

    def add_leads(self, count: int) -> list[int]:
        """Create ``count`` leads directly in the store (no HTTP, no bucket); their ids."""
        return list(self._call("add_leads", count))

    def requests(self) -> list[tuple[str, int]]:
        """``(method, HTTP status)`` of every REST request since the last reset, in order."""
        return [(str(method), int(status)) for method, status in self._call("requests")]

    def journal(self) -> list[tuple[int, float]]:
        """``(HTTP status, arrival time on the portal's clock)`` of every REST request."""
        return [(int(status), float(ts)) for status, ts in self._call("journal")]

    def reset_counters(self) -> None:
        """Empty the request journal and refill the portal's bucket."""
        self._call("reset_counters")

    def existing(self, ids: list[int]) -> int:
        """How many of ``ids`` are still leads."""
        return int(self._call("existing", ids))

    def leads_left(self) -> int:
        """Leads in the portal, by ``crm.lead.list`` ``total`` (resets the counters first)."""
        return int(self._call("leads_left"))


class RequestCounts:
    """Counts over ``requests`` (``(method, HTTP status)`` pairs from the portal's journal)."""

    requests: list[tuple[str, int]]

    @property
    def sent(self) -> int:
        """Requests the portal received."""
        return len(self.requests)

    @property
    def refused(self) -> int:
        """Requests answered 503 (the portal's bucket refused them)."""
        return sum(1 for _, status in self.requests if status == 503)

    @property
    def accepted(self) -> int:
        """Requests the portal let through."""
        return self.sent - self.refused
