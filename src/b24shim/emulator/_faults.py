"""Fault injection: a seeded share of REST requests fails the way real portals and proxies do.

Kinds:

- `"503"`: answered 503 `QUERY_LIMIT_EXCEEDED` before the method runs.
- `"500"`: the method runs or not (a seeded coin), then 500 `INTERNAL_SERVER_ERROR`.
- `"reset"`: the method runs or not (a seeded coin), then the connection is reset (RST) with no
  response at all.
- `"slow"`: the method runs and the response is held back `slow_seconds` real seconds.
- `"garbage"`: the method runs, then HTTP 200 with a body that is not JSON (the envelope cut in
  half, or an HTML error page from a proxy).

Decisions are drawn from `random.Random(seed)` under a lock, one per REST request in arrival
order, so a sequential client sees the same faults on every run with the same seed. The OAuth
token endpoint is never faulted.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable

import attrs

__all__ = ["FAULT_KINDS", "FaultConfig", "FaultDecision", "FaultInjector"]

FAULT_KINDS: tuple[str, ...] = ("503", "500", "reset", "slow", "garbage")


def _to_kinds(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _check_rate(_instance: object, _attribute: object, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"FaultConfig.rate must be a number from 0 to 1, got {value!r}")


def _check_seed(_instance: object, _attribute: object, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"FaultConfig.seed must be an integer, got {value!r}")


def _check_kinds(_instance: object, _attribute: object, value: tuple[str, ...]) -> None:
    if not value:
        raise ValueError(f"FaultConfig.kinds must name at least one of {FAULT_KINDS}, got ()")
    unknown = [kind for kind in value if kind not in FAULT_KINDS]
    if unknown:
        raise ValueError(f"FaultConfig.kinds: unknown kind(s) {unknown!r}; known: {FAULT_KINDS}")


def _check_slow(_instance: object, _attribute: object, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"FaultConfig.slow_seconds must be a number >= 0, got {value!r}")


@attrs.frozen
class FaultConfig:
    """Which share of REST requests fails, and how.

    Args:
        rate: Probability (0..1) that a request gets a fault.
        seed: Seed of the random generator, for reproducible runs.
        kinds: The fault kinds to pick from (uniformly): "503", "500", "reset", "slow", "garbage".
        slow_seconds: Real seconds a "slow" response is held back.
    """

    rate: float = attrs.field(validator=_check_rate)
    seed: int = attrs.field(default=0, validator=_check_seed)
    kinds: tuple[str, ...] = attrs.field(
        default=FAULT_KINDS, converter=_to_kinds, validator=_check_kinds
    )
    slow_seconds: float = attrs.field(default=1.0, validator=_check_slow)


@attrs.frozen
class FaultDecision:
    """The fault chosen for one request.

    Attributes:
        kind: One of the fault kinds.
        runs_method: Whether the method runs before the fault hits ("500" and "reset" only;
            always true for "slow" and "garbage", false for "503").
        html: For "garbage": an HTML page instead of truncated JSON.
        delay: Real seconds to hold the response back ("slow").
    """

    kind: str
    runs_method: bool
    html: bool = False
    delay: float = 0.0


class FaultInjector:
    """Draws one decision per request from the seeded generator of the current `FaultConfig`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._config: FaultConfig | None = None
        self._random = random.Random(0)

    def decide(self, config: FaultConfig | None) -> FaultDecision | None:
        """Return the fault for the next request, or None.

        A new config (another object) restarts the generator from its seed.
        """
        if config is None or config.rate <= 0:
            return None
        with self._lock:
            if config is not self._config:
                self._config = config
                self._random = random.Random(config.seed)
            rng = self._random
            if rng.random() >= config.rate:
                return None
            kind = rng.choice(config.kinds)
            coin = rng.random() < 0.5
            html = rng.random() < 0.5
        if kind == "503":
            return FaultDecision(kind, runs_method=False)
        if kind in ("500", "reset"):
            return FaultDecision(kind, runs_method=coin)
        if kind == "slow":
            return FaultDecision(kind, runs_method=True, delay=config.slow_seconds)
        return FaultDecision(kind, runs_method=True, html=html)

    def restart(self) -> None:
        """Forget the generator state: the next decision starts again from the seed."""
        with self._lock:
            self._config = None
