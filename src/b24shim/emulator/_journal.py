"""`RequestRecord`: what the portal saw of each REST request, in arrival order."""

from __future__ import annotations

import threading
from typing import Any

import attrs

__all__ = ["Journal", "RequestRecord"]


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
    """A thread-safe, append-only list of `RequestRecord`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def append(self, record: RequestRecord) -> None:
        """Add a record."""
        with self._lock:
            self._records.append(record)

    def snapshot(self) -> list[RequestRecord]:
        """Return a copy of the records, oldest first."""
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        """Forget all records."""
        with self._lock:
            self._records.clear()
