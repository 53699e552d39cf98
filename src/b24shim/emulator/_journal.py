"""`RequestRecord`: what the portal saw of each REST request, in arrival order, capped.

The journal keeps the newest `limit` records only (a `collections.deque` with `maxlen`), so
memory stays bounded however many requests a long test or a soak run sends; `dropped` says how
many older records have gone. Tests read it with `Emulator.requests` and empty it with
`Emulator.clear_requests()`; from the command line, `b24shim emulator --journal URL` reads (and
`--clear-journal URL` empties) the journal of a running emulator through its `journal` URL.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

import attrs

__all__ = ["DEFAULT_JOURNAL_SIZE", "Journal", "RequestRecord"]

DEFAULT_JOURNAL_SIZE = 10_000


@attrs.frozen
class RequestRecord:
    """One request to `/rest/` (token-endpoint calls are counted by `refresh_count` instead).

    Attributes:
        http_method: "GET" or "POST".
        method: The normalized method name ("crm.lead.delete", "batch", ...).
        params: The parameters with `auth`/`access_token` removed.
        status: The HTTP status sent; 0 when the connection was reset without a response.
        user_id: The authenticated user, or None when authentication failed or never ran.
        fault: The injected fault kind ("503", "500", "reset", "slow", "garbage") or None.
        ts: Portal clock time at arrival.
    """

    http_method: str
    method: str
    params: dict[str, Any]
    status: int
    user_id: int | None
    fault: str | None
    ts: float


class Journal:
    """A thread-safe journal of the newest `limit` `RequestRecord`s.

    Args:
        limit: How many records to keep (>= 1).
    """

    def __init__(self, limit: int = DEFAULT_JOURNAL_SIZE) -> None:
        self._lock = threading.Lock()
        self._records: deque[RequestRecord] = deque(maxlen=limit)
        self._appended = 0

    @property
    def limit(self) -> int:
        """How many records are kept."""
        maxlen = self._records.maxlen
        assert maxlen is not None
        return maxlen

    def append(self, record: RequestRecord) -> None:
        """Add a record (the oldest goes when the journal is full)."""
        with self._lock:
            self._records.append(record)
            self._appended += 1

    def snapshot(self, *, clear: bool = False) -> tuple[list[RequestRecord], int]:
        """The records, oldest first, and how many older ones were dropped; then maybe clear."""
        with self._lock:
            records = list(self._records)
            dropped = self._appended - len(records)
            if clear:
                self._records.clear()
                self._appended = 0
            return records, dropped

    def clear(self) -> None:
        """Forget all records."""
        with self._lock:
            self._records.clear()
            self._appended = 0
