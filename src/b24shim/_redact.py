"""Keep secrets out of every string the shim shows: log lines, exception text, reprs."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

__all__ = ["MASK", "Redactor", "install_urllib3_filter"]

MASK = "***"

# A webhook path /rest/<user>/<code>/ and the auth parameters of the OAuth form.
_WEBHOOK_PATH = re.compile(r"(/rest/\d+/)[^/\s?#'\"]+")
_AUTH_PARAM = re.compile(
    r"((?:auth|access_token|refresh_token|client_secret)=)[^&\s'\"]+", re.IGNORECASE
)


def scrub(text: str) -> str:
    """Mask the secret-shaped parts of ``text`` whose values are not known in advance."""
    text = _WEBHOOK_PATH.sub(rf"\g<1>{MASK}", text)
    return _AUTH_PARAM.sub(rf"\g<1>{MASK}", text)


class Redactor:
    """Masks known secrets, plus anything shaped like one, in a string."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        """Remember more secrets (a rotated token, say); short values are ignored."""
        for secret in secrets:
            if secret and len(secret) >= 4:
                self._secrets.add(secret)

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return scrub(text)


class _ScrubFilter(logging.Filter):
    """urllib3 logs request paths at DEBUG, and a webhook's path holds its code."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(scrub(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = scrub(record.msg)
        return True


_FILTER = _ScrubFilter()


def install_urllib3_filter() -> None:
    """Scrub webhook codes from urllib3's own request log (idempotent)."""
    log = logging.getLogger("urllib3.connectionpool")
    if _FILTER not in log.filters:
        log.addFilter(_FILTER)
