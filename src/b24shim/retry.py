"""When to try a delete again, and how long to wait first.

Safe to retry, always: the portal refused before running anything (503
``QUERY_LIMIT_EXCEEDED``, 429 ``OPERATION_TIME_LIMIT``) or the connection failed before the
request was sent. After an ambiguous failure (a timeout or reset after sending, a 5xx, garbage
with status 200) the delete may have happened: it is tried again, and a retry that finds the
lead gone reports ``ALREADY_ABSENT``, never ``DELETED``. When the tries run out the outcome is
``FAILED`` (nothing ran) or ``UNKNOWN`` (something may have), never a silent success.
"""

from __future__ import annotations

import random

import attrs

from b24shim._validate import number_above, whole_number_from
from b24shim.codes import ErrorCode

__all__ = ["NO_RETRY", "SAFE_CODES", "RetryPolicy"]

SAFE_CODES = frozenset({ErrorCode.QUERY_LIMIT_EXCEEDED, ErrorCode.OPERATION_TIME_LIMIT})


@attrs.frozen
class RetryPolicy:
    """How often and how patiently to retry.

    Args:
        attempts: tries in all for a delete refused before it ran (limits, connection refused).
        ambiguous_attempts: tries in all for a delete whose first answer was ambiguous.
        backoff: the first wait, in seconds; doubled on each retry.
        max_backoff: the longest wait.
        jitter: wait a random time between half and all of the backoff, so that many clients
            do not retry in step.
    """

    attempts: int = attrs.field(default=5, validator=whole_number_from(1))
    ambiguous_attempts: int = attrs.field(default=3, validator=whole_number_from(1))
    backoff: float = attrs.field(default=0.5, validator=number_above(0, inclusive=True))
    max_backoff: float = attrs.field(default=30.0, validator=number_above(0, inclusive=True))
    jitter: bool = True

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        full = float(min(self.max_backoff, self.backoff * 2.0 ** (retry - 1)))
        if not self.jitter:
            return full
        return full / 2 + float((rng or random).uniform(0, full / 2))

    @staticmethod
    def is_safe(code: ErrorCode | None, *, ambiguous: bool) -> bool:
        """True when a failure with ``code`` ran nothing and may simply be tried again."""
        if code in SAFE_CODES:
            return True
        return code is ErrorCode.TRANSPORT_ERROR and not ambiguous


#: Send once: no retry of any kind (the outcome of a lost answer stays ``unknown``).
NO_RETRY = RetryPolicy(attempts=1, ambiguous_attempts=1)
