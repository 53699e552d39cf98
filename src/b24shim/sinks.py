"""The evidence log: a JSON-lines file of every delete and every difference, for ``b24shim report``.

``JsonlDifferenceSink`` is a callable for ``LeadShim(on_difference=...)`` (or
``B24SHIM_DIFFERENCE_LOG``). It writes two kinds of line, each with ``"ts"``, the ISO-8601 UTC
time it was written:

- ``{"record": "delete", "lead_id", "stage", "route", "outcome", "verified", "code",
  "duration_ms", "ts"}`` for every delete the shim concludes (``verified``: the checks of a
  verified stage ran for it; ``code``: the canonical error code, null when ok), about 200 bytes
  at most;
- ``{"record": "difference", ...Difference.to_dict(), "ts"}`` for every difference.

Logs written before delete records existed hold differences without ``record``; the report
reads those lines as differences.

Many threads and many processes may append to the same file at once: the file is opened with
``O_APPEND`` and each line is written with a single ``os.write`` (under a lock within the
process), so lines never interleave.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from types import TracebackType

from b24shim.errors import ConfigError
from b24shim.result import DeleteResult, Difference

__all__ = ["DIFFERENCE_LOG_VARIABLE", "JsonlDifferenceSink"]

#: The environment variable naming the differences log.
DIFFERENCE_LOG_VARIABLE = "B24SHIM_DIFFERENCE_LOG"

_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class JsonlDifferenceSink:
    """Append each difference to a JSON-lines file, one object per line.

    Args:
        path: the file to append to (created when missing); ``B24SHIM_DIFFERENCE_LOG`` when
            None.
        environ: where to look the variable up (``os.environ`` when None).
        clock: returns the current time as an aware ``datetime`` (tests inject their own).

    Raises:
        ConfigError: when neither ``path`` nor ``B24SHIM_DIFFERENCE_LOG`` is set, or the file
            cannot be opened for appending.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        setting = "path"
        if path is None:
            env = os.environ if environ is None else environ
            path = env.get(DIFFERENCE_LOG_VARIABLE, "").strip() or None
            setting = DIFFERENCE_LOG_VARIABLE
        if path is None:
            raise ConfigError(
                DIFFERENCE_LOG_VARIABLE,
                f"no differences log: pass a path or set {DIFFERENCE_LOG_VARIABLE} to a file "
                "to append to",
            )
        self.path = os.fspath(path)
        self._clock = clock
        self._lock = threading.Lock()
        try:
            self._fd: int | None = os.open(self.path, _FLAGS, 0o644)
        except OSError as exc:
            raise ConfigError(
                setting,
                f"{setting} {self.path!r} cannot be opened for appending "
                f"({exc.strerror or type(exc).__name__})",
            ) from exc

    def __call__(self, difference: Difference) -> None:
        """Append ``difference`` as one JSON line.

        Raises:
            ValueError: the sink was closed.
            OSError: the write failed (the shim catches and logs it).
        """
        self._append({"record": "difference", **difference.to_dict()})

    def record_delete(
        self, result: DeleteResult, *, verified: bool, duration: float | None = None
    ) -> None:
        """Append one delete record (the shim calls this for every delete it concludes).

        Args:
            result: the concluded delete.
            verified: the checks of a verified stage ran for it.
            duration: seconds from the start of the delete to its result, when known.

        Raises:
            ValueError: the sink was closed.
            OSError: the write failed (the shim catches and logs it).
        """
        self._append(
            {
                "record": "delete",
                "lead_id": result.lead_id,
                "stage": result.stage.value,
                "route": result.route.value,
                "outcome": result.outcome.value,
                "verified": verified,
                "code": None if result.error is None else result.error.code.value,
                "duration_ms": None if duration is None else round(duration * 1000, 3),
            }
        )

    def _append(self, record: dict[str, object]) -> None:
        record["ts"] = self._clock().astimezone(timezone.utc).isoformat(timespec="microseconds")
        # Compact separators: a delete record stays well under 200 bytes.
        text = json.dumps(record, ensure_ascii=False, default=str, separators=(",", ":"))
        data = (text + "\n").encode("utf-8")
        with self._lock:
            if self._fd is None:
                raise ValueError(f"the differences log {self.path!r} is closed")
            written = os.write(self._fd, data)
            # A regular file takes the whole line at once; finishing a short write keeps the
            # line whole even if it can then no longer be atomic (a full disk, a signal).
            while written < len(data):
                written += os.write(self._fd, data[written:])

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._fd is None

    def __enter__(self) -> JsonlDifferenceSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            with contextlib.suppress(OSError):  # already gone at interpreter exit
                os.close(fd)

    def __repr__(self) -> str:
        state = "closed" if self._fd is None else "open"
        return f"JsonlDifferenceSink({self.path!r}, {state})"
