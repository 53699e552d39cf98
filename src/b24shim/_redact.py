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
    """urllib3 logs request paths (at DEBUG, and in retry warnings), and a webhook's path
    holds its code.

    The message is formatted here, scrubbed, and stored with no arguments left: an argument
    that is an exception or a ``Retry`` object would otherwise be turned into text by the
    handler, after any filter, with the URL in it. A traceback is rendered and scrubbed the
    same way (the standard ``Formatter`` prints ``exc_text`` when it is set).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's to report
            return True
        record.msg, record.args = scrub(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


_FILTER = _ScrubFilter()


def install_urllib3_filter() -> None:
    """Scrub secrets from the log lines of every urllib3 logger (idempotent).

    A filter on a logger sees only the records made on that logger, not those its children
    pass up, so it goes on each of urllib3's module loggers (``urllib3.connectionpool``,
    ``urllib3.util.retry``, ``urllib3.response``...), which exist once urllib3 is imported.
    """
    import urllib3  # noqa: F401, PLC0415 - its module loggers exist after the import

    manager = logging.Logger.manager
    names = ["urllib3", *(n for n in list(manager.loggerDict) if n.startswith("urllib3."))]
    for name in names:
        log = logging.getLogger(name)
        if _FILTER not in log.filters:
            log.addFilter(_FILTER)
