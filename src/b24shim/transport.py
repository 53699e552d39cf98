"""HTTP to the portal: URLs, auth, timeouts, the envelope, errors. Knows nothing of leads.

One :class:`Transport` per shim. It sends a method call as a JSON POST to
``<base>/<method>.json`` (webhook form) or ``<portal>/rest/<method>.json`` with ``auth`` in the
body (OAuth form), turns every answer into a :class:`~b24shim._envelope.Reply`, and never lets a
``requests`` or ``json`` exception escape: a network failure becomes ``TRANSPORT_ERROR``, a
malformed body ``PROTOCOL_ERROR``. Secrets are masked in everything it logs or reports.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import requests
import urllib3.exceptions

from b24shim._envelope import Reply, parse_batch, parse_response
from b24shim._redact import install_urllib3_filter
from b24shim.codes import ErrorCode
from b24shim.credentials import Credentials, OAuth
from b24shim.result import ErrorInfo

__all__ = ["DEFAULT_TIMEOUT", "Command", "Timeout", "Transport", "encode_query"]

logger = logging.getLogger(__name__)

#: Seconds to wait for the portal: (connect, read).
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 60.0)

Timeout = float | tuple[float, float]
Command = tuple[str, Mapping[str, Any]]

# Failures that happen before a request leaves the machine: nothing can have run.
_NOT_SENT = (
    urllib3.exceptions.NewConnectionError,
    urllib3.exceptions.ConnectTimeoutError,
    urllib3.exceptions.NameResolutionError,
)


def _flatten(prefix: str, value: object) -> list[tuple[str, str]]:
    if isinstance(value, Mapping):
        pairs: list[tuple[str, str]] = []
        for key, inner in value.items():
            pairs += _flatten(f"{prefix}[{key}]", inner)
        return pairs
    if isinstance(value, (list, tuple)):
        return [pair for i, inner in enumerate(value) for pair in _flatten(f"{prefix}[{i}]", inner)]
    if isinstance(value, bool):
        return [(prefix, "Y" if value else "N")]
    return [(prefix, "" if value is None else str(value))]


def encode_query(params: Mapping[str, Any]) -> str:
    """PHP-style query string (``fields[TITLE]=x``), as ``batch`` commands carry them."""
    pairs = [pair for key, value in params.items() for pair in _flatten(str(key), value)]
    return "&".join(f"{quote(k, safe='[]')}={quote(v, safe='')}" for k, v in pairs)


def _was_sent(exc: requests.RequestException) -> bool:
    """Whether the request may have reached the portal before ``exc``."""
    if isinstance(exc, (requests.ConnectTimeout, requests.exceptions.SSLError)):
        return False
    if isinstance(exc, (ValueError, requests.exceptions.InvalidHeader)):
        return False  # InvalidURL, MissingSchema, InvalidSchema...: refused before sending
    if isinstance(exc, requests.ConnectionError):
        seen: object = exc
        for _ in range(8):  # requests wraps urllib3's MaxRetryError, which wraps the cause
            if isinstance(seen, _NOT_SENT):
                return False
            reason = getattr(seen, "reason", None)
            args = getattr(seen, "args", ())
            inner = reason if reason is not None else (args[0] if args else None)
            if inner is None or inner is seen:
                break
            seen = inner
    return True  # a read timeout, a reset, a cut body: the request went out


class Transport:
    """Sends method calls to one portal and parses the answers.

    Args:
        credentials: a :class:`~b24shim.Webhook` or :class:`~b24shim.OAuth`.
        session: the ``requests.Session`` to use (one is created when None).
        timeout: seconds, or ``(connect, read)``.
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        session: requests.Session | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        install_urllib3_filter()
        self.credentials = credentials
        self.session = session if session is not None else requests.Session()
        self.timeout = timeout
        self.requests_sent = 0

    @property
    def portal(self) -> str:
        """``scheme://host[:port]`` of the portal; safe to log."""
        return self.credentials.portal

    def call(self, method: str, params: Mapping[str, Any]) -> Reply:
        """Call one method. Never raises for portal, network or body failures."""
        body = dict(params)
        if isinstance(self.credentials, OAuth):
            body["auth"] = self.credentials.access_token
        return self._post(method, body)

    def batch(self, commands: Mapping[str, Command], *, halt: bool = False) -> dict[str, Reply]:
        """Run up to 50 commands in one ``batch`` request, in order.

        Returns:
            One reply per command key. When the batch itself fails, every command gets its
            error (and its ambiguity).
        """
        cmd = {key: f"{name}?{encode_query(args)}" for key, (name, args) in commands.items()}
        envelope = self.call("batch", {"halt": 1 if halt else 0, "cmd": cmd})
        return parse_batch(envelope, list(commands))

    def _post(self, method: str, body: dict[str, Any]) -> Reply:
        url = f"{self.credentials.base_url}{method}.json"
        started = time.perf_counter()
        try:
            self.requests_sent += 1
            response = self.session.post(url, json=body, timeout=self.timeout)
            content = response.content
        except requests.RequestException as exc:
            sent = _was_sent(exc)
            description = self.credentials.redact(f"{type(exc).__name__}: {exc}")
            logger.info(
                "%s %s failed before an answer (%s)",
                self.portal,
                method,
                description,
                extra={"b24shim_method": method},
            )
            return Reply(
                error=ErrorInfo(ErrorCode.TRANSPORT_ERROR, "", description, None),
                ambiguous=sent,
            )
        reply = parse_response(response.status_code, content)
        logger.debug(
            "%s %s -> %s %s in %.1f ms",
            self.portal,
            method,
            response.status_code,
            "ok" if reply.ok else reply.code,
            (time.perf_counter() - started) * 1000,
            extra={"b24shim_method": method},
        )
        return reply
