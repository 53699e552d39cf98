"""The ``B24SHIM_*`` environment variables: the one list of their names, and a check for typos.

A variable b24shim does not read is silently useless (a stage set under a shortened name leaves
the stage at ``legacy``), so :func:`unknown_variables` names each such variable with the closest
real one.
Add a name here when code starts reading it; ``tests/test_config.py`` checks that every
``B24SHIM_*`` name in the source is listed.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["KNOWN", "PREFIX", "closest", "unknown_variables"]

PREFIX = "B24SHIM_"

#: Every variable b24shim reads.
KNOWN: frozenset[str] = frozenset(
    PREFIX + name
    for name in (
        # credentials
        "WEBHOOK_URL",
        "PORTAL_URL",
        "ACCESS_TOKEN",
        "REFRESH_TOKEN",
        "CLIENT_ID",
        "CLIENT_SECRET",
        "TOKEN_URL",
        # rollout
        "LEAD_DELETE_STAGE",
        "ITEM_PERCENT",
        "VERIFY_PERCENT",
        "KILL_SWITCH",
        # transport, limits, answers
        "TIMEOUT",
        "RATE_LIMIT",
        "REDIS_URL",
        "LEGACY_NOT_FOUND",
        # evidence
        "DIFFERENCE_LOG",
    )
)

_SUFFIXES = {name[len(PREFIX) :]: name for name in KNOWN}


def closest(name: str) -> str | None:
    """The known variable ``name`` was most likely meant to be, or None."""
    suffix = name.upper()[len(PREFIX) :]
    # The prefix is shared by all, so compare what follows it: on whole names every guess
    # scores well, and any short unknown name would "match" the timeout.
    found = difflib.get_close_matches(suffix, _SUFFIXES, n=1, cutoff=0.5)
    if found:
        return _SUFFIXES[found[0]]
    # A shortened name: every word of it in exactly one known name (STAGE, LEAD_STAGE).
    words = {word for word in suffix.split("_") if word}
    holding = [full for key, full in _SUFFIXES.items() if words and words <= set(key.split("_"))]
    return holding[0] if len(holding) == 1 else None


def unknown_variables(names: Iterable[str]) -> list[str]:
    """One message per name that looks like a b24shim variable but is not one."""
    messages = []
    for name in sorted(names):
        if not name.upper().startswith(PREFIX) or name in KNOWN:
            continue
        guess = closest(name)
        hint = (
            f"did you mean {guess}?"
            if guess
            else "the variables b24shim reads are " + ", ".join(sorted(KNOWN))
        )
        messages.append(f"{name} is not a b24shim setting and is ignored; {hint}")
    return messages
