"""HTTP to the portal: URLs, auth, timeouts, the envelope, errors. Knows nothing of leads.

One :class:`Transport` per shim. It sends a method call as a JSON POST to
``<base>/<method>.json`` (webhook form) or ``<portal>/rest/<method>.json`` with ``auth`` in the
body (OAuth form), turns every answer into a :class:`~b24shim._envelope.Reply`, and never lets a
``requests`` or ``json`` exception escape: a network failure becomes ``TRANSPORT_ERROR``, a
malformed body ``PROTOCOL_ERROR``. Secrets are masked in everything it logs or reports.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urljoin

import requests
import requests.adapters
import urllib3.exceptions

from b24shim._envelope import Reply, parse_batch, parse_response
from b24shim._redact import install_urllib3_filter
from b24shim.codes import ErrorCode
from b24shim.credentials import Credentials, OAuth
from b24shim.limits import (
    Clock,
    OperatingPacer,
    RateLimit,
    SharedLimits,
    SystemClock,
    accounting_of,
    limits_for,
)
from b24shim.result import CallTime, ErrorInfo

__all__ = ["DEFAULT_TIMEOUT", "OWN_SESSION", "Command", "Timeout", "Transport", "encode_query"]

logger = logging.getLogger(__name__)

#: Set while b24shim makes an HTTP session for itself: install()'s drop-ins leave it alone.
OWN_SESSION: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "b24shim_own_session", default=False
)

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


@functools.lru_cache(maxsize=256)
def _quoted_key(key: str) -> str:
    return quote(key, safe="[]@")


def encode_query(params: Mapping[str, Any]) -> str:
    """PHP-style query string (``fields[TITLE]=x``), as ``batch`` commands carry them."""
    parts: list[str] = []
    for key, value in params.items():
        if type(value) is int:  # the hot path of a bulk job: ids need no quoting
            parts.append(f"{_quoted_key(str(key))}={value}")
            continue
        parts += (f"{_quoted_key(k)}={quote(v, safe='')}" for k, v in _flatten(str(key), value))
    return "&".join(parts)


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

    Every request first takes room in the shared :class:`~b24shim.limits.LeakyBucket` and
    waits for the :class:`~b24shim.limits.OperatingPacer`; an OAuth ``expired_token`` answer
    refreshes the token once for all threads and sends the call again, once.

    Args:
        credentials: a :class:`~b24shim.Webhook` or :class:`~b24shim.OAuth`.
        session: the ``requests.Session`` to use (one is created when None).
        timeout: seconds, or ``(connect, read)``.
        rate_limit: the portal's bucket to stay under; None for no client-side limit.
        operating_limit: the portal's operating-time budget per method, seconds per 10 min.
        clock: where time is read and waited (tests pass a manual clock).
        shared: limits shared with other processes (:class:`~b24shim.limits.RedisLimits`);
            None keeps them in this process.
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        session: requests.Session | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        rate_limit: RateLimit | None = RateLimit.STANDARD,
        operating_limit: float = 480.0,
        clock: Clock | None = None,
        shared: SharedLimits | None = None,
    ) -> None:
        install_urllib3_filter()
        self.credentials = credentials
        # Proxies per destination; None: requests reads the environment itself, on each call.
        self._proxies: dict[str, str] | None = None
        self._token_proxies: dict[str, str] | None = None
        # The shim's own session is sent through its adapter directly: no second Session
        # layer (cookies, hooks, settings merging) that a portal call never needs.
        self._direct: requests.adapters.BaseAdapter | None = None
        self._prepared_urls: dict[str, str] = {}  # URL -> prepared, per method called
        if session is None:
            session = _own_session()
            self._direct = session.get_adapter(credentials.base_url)
            self._proxies = _environ_proxies(credentials.base_url)
            if isinstance(credentials, OAuth):
                self._token_proxies = _environ_proxies(credentials.token_url)
        self.session = session
        self.timeout = timeout
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.bucket, self.pacer = limits_for(
            self.portal, rate_limit, operating_limit, self.clock, shared
        )
        self.requests_sent = 0
        self.refreshes = 0
        self._count_lock = threading.Lock()

    @property
    def portal(self) -> str:
        """``scheme://host[:port]`` of the portal; safe to log."""
        return self.credentials.portal

    def call(self, method: str, params: Mapping[str, Any]) -> Reply:
        """Call one method. Never raises for portal, network or body failures."""
        reply = self._call_once(method, params, paced=[method])
        self._observe(method, reply)
        return reply

    def batch(self, commands: Mapping[str, Command], *, halt: bool = False) -> dict[str, Reply]:
        """Run up to 50 commands in one ``batch`` request, in order.

        Returns:
            One reply per command key. When the batch itself fails, every command gets its
            error (and its ambiguity).
        """
        methods = [name for name, _ in commands.values()]
        envelope = self._call_once("batch", batch_params(commands, halt=halt), methods)
        replies = parse_batch(envelope, list(commands))
        if envelope.ok:  # the batch method is exempt; each command counts under its own name
            observe_batch(self.pacer, commands, replies)
        return replies

    def _observe(self, method: str, reply: Reply) -> None:
        if reply.code is ErrorCode.OPERATION_TIME_LIMIT:
            self.pacer.blocked(method)
        else:
            self.pacer.observe(method, reply.time)

    def _call_once(self, method: str, params: Mapping[str, Any], paced: list[str]) -> Reply:
        credentials = self.credentials
        if not isinstance(credentials, OAuth):
            return self._post(method, dict(params), paced)
        token = credentials.access_token
        reply = self._post(method, {**params, "auth": token}, paced)
        if reply.code is not ErrorCode.EXPIRED_TOKEN:
            return reply
        failure = self._refresh(credentials, token)
        if failure is not None:
            return failure
        return self._post(method, {**params, "auth": credentials.access_token}, paced)

    def _refresh(self, credentials: OAuth, stale: str) -> Reply | None:
        """Refresh the access token once, however many threads found it expired.

        Returns:
            None when a fresh token is in place; otherwise a reply saying why not.
        """
        with credentials.refresh_lock:
            if credentials.access_token != stale:
                return None  # another thread refreshed while this one waited
            if not credentials.can_refresh:
                return cannot_refresh()
            reply = self._request_tokens(credentials)
            if reply is not None:
                return reply
            with self._count_lock:
                self.refreshes += 1
            after_refresh(credentials, self.portal)
            return None

    def _prepare_url(self, url: str) -> str:
        """``url`` as ``PreparedRequest.prepare_url`` writes it, kept for the next call."""
        prepared = requests.PreparedRequest()
        prepared.prepare_url(url, None)
        assert prepared.url is not None  # prepare_url sets it or raises
        self._prepared_urls[url] = prepared.url
        return prepared.url

    def _request_tokens(self, credentials: OAuth) -> Reply | None:
        try:
            response = self.session.get(
                credentials.token_url,
                params=token_params(credentials),
                timeout=self.timeout,
                allow_redirects=False,
                proxies=self._token_proxies,
            )
            content = response.content
        except requests.RequestException as exc:
            return token_failure(credentials, f"{type(exc).__name__}: {exc}")
        location = response.headers.get("Location", "")
        return read_token_answer(credentials, response.status_code, content, location)

    def _post(self, method: str, body: dict[str, Any], paced: list[str]) -> Reply:
        if self.bucket is not None:
            self.bucket.acquire()
        self.pacer.wait(paced)
        url = f"{self.credentials.base_url}{method}.json"
        started = time.perf_counter()
        with self._count_lock:
            self.requests_sent += 1
        try:
            # Never follow a redirect: requests would re-post the body (auth included) to
            # whatever host the Location names, and trust its answer.
            if self._direct is not None and self.session.get_adapter(url) is self._direct:
                # prepare() piece by piece: the URL (the same for every call of a method) is
                # prepared once; no auth (the portal's address never holds a user, the
                # credentials rebuild it from the host), no cookies (none are sent). A
                # third of prepare()'s cost, per request of a bulk job.
                prepared = requests.PreparedRequest()
                prepared.method = "POST"
                prepared.url = self._prepared_urls.get(url) or self._prepare_url(url)
                prepared.prepare_headers(self.session.headers)
                prepared.prepare_body(None, None, body)
                response = self._direct.send(
                    prepared,
                    timeout=self.timeout,
                    verify=True if self.session.verify is None else self.session.verify,
                    proxies=self._proxies,
                )
            else:
                response = self.session.post(
                    url,
                    json=body,
                    timeout=self.timeout,
                    allow_redirects=False,
                    proxies=self._proxies,
                )
            content = response.content
        except requests.RequestException as exc:
            if self.bucket is not None:
                self.bucket.answered()
            sent = _was_sent(exc)
            description = self.credentials.redact(f"{type(exc).__name__}: {exc}")
            logger.info(
                "%s %s failed before an answer (%s)",
                self.portal,
                method,
                description,
                extra={"b24shim_method": method},
            )
            return not_answered(description, sent=sent)
        if self.bucket is not None:
            self.bucket.answered()
        if 300 <= response.status_code < 400:
            description = redirected(
                response.status_code,
                response.headers.get("Location", ""),
                url,
                self.credentials.redact,
            )
            logger.info("%s %s: %s", self.portal, method, description)
            reply = redirect_reply(response.status_code, description)
        else:
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


def _own_session() -> requests.Session:
    """The session a shim makes for itself, with the environment read once, now.

    A default ``requests.Session`` re-reads the proxy variables (and ``NO_PROXY``) and the CA
    bundle variables from ``os.environ`` on every call: two scans of the environment, about
    30% of a keep-alive call on loopback. The shim's own session takes them once, when the
    shim is built (``trust_env=False``, with the proxies passed per call and
    ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` as ``verify``): a changed environment is
    picked up by building a new shim. A session you pass in keeps requests' own behaviour.
    """
    session = requests.Session()
    session.trust_env = False
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    # Room for many threads sharing one shim without discarding connections.
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def _environ_proxies(url: str) -> dict[str, str]:
    """The proxies the environment names for ``url`` (none when ``NO_PROXY`` covers it)."""
    return {
        scheme: proxy
        for scheme, proxy in requests.utils.get_environ_proxies(url).items()
        if scheme != "no"
    }


def redirected(status: int, location: str, url: str, redact: Callable[[str], str]) -> str:
    """What to tell the user about a redirect the shim did not follow."""
    target = urljoin(url, location) if location else "no Location"
    return redact(
        f"the portal answered HTTP {status} redirecting to {target[:200]}; "
        "b24shim does not follow redirects (they would carry the credentials to another "
        "address): if the portal has moved, set its new address in the webhook or portal URL"
    )


def observe_batch(
    pacer: OperatingPacer, commands: Mapping[str, Command], replies: Mapping[str, Reply]
) -> None:
    """Feed ``pacer`` a batch's accounting: once per method, in the commands' order.

    A command refused for operating time blocks its method after what ran before it counted.
    Shared by both transports.
    """
    timings: dict[str, list[CallTime | None]] = {}
    for key, (name, _) in commands.items():
        reply = replies[key]
        if reply.error is not None and reply.error.code is ErrorCode.OPERATION_TIME_LIMIT:
            pacer.observe(name, accounting_of(timings.pop(name, ())))
            pacer.blocked(name)
        else:
            timings.setdefault(name, []).append(reply.time)
    for name, seen in timings.items():
        pacer.observe(name, accounting_of(seen))


def batch_params(commands: Mapping[str, Command], *, halt: bool = False) -> dict[str, Any]:
    """The parameters of a ``batch`` call running ``commands`` in order."""
    cmd = {key: f"{name}?{encode_query(args)}" for key, (name, args) in commands.items()}
    return {"halt": 1 if halt else 0, "cmd": cmd}


def redirect_reply(status: int, description: str) -> Reply:
    """A redirect comes before the method runs: nothing was done, so not ambiguous."""
    return Reply(
        error=ErrorInfo(ErrorCode.PORTAL_MOVED, "", description, status), http_status=status
    )


def not_answered(description: str, *, sent: bool) -> Reply:
    """A request that failed before an answer (``sent``: it may have reached the portal)."""
    return Reply(error=ErrorInfo(ErrorCode.TRANSPORT_ERROR, "", description, None), ambiguous=sent)


# -- OAuth refresh, read the same way whichever HTTP library sends it -------------------------


def token_params(credentials: OAuth) -> dict[str, str]:
    """The query of the refresh request to ``credentials.token_url``."""
    return {
        "grant_type": "refresh_token",
        "client_id": credentials.client_id or "",
        "client_secret": credentials.client_secret or "",
        "refresh_token": credentials.refresh_token or "",
    }


def cannot_refresh() -> Reply:
    """The reply for an expired token without what refreshing it needs."""
    return _auth_failure(
        ErrorCode.EXPIRED_TOKEN,
        "expired_token",
        "the access token expired and cannot be refreshed: OAuth needs "
        "refresh_token, client_id and client_secret to refresh it",
        401,
    )


def token_failure(credentials: OAuth, description: str) -> Reply:
    """The reply for a refresh request that got no answer."""
    return _auth_failure(
        ErrorCode.TRANSPORT_ERROR,
        "",
        credentials.redact(f"refreshing the expired access token failed: {description}"),
        None,
    )


def read_token_answer(
    credentials: OAuth, status: int, content: bytes, location: str = ""
) -> Reply | None:
    """Read the token endpoint's answer: rotate the tokens, or say why it failed.

    Returns:
        None when the new tokens are in place; otherwise the reply for the failed call.
    """
    redact = credentials.redact
    if 300 <= status < 400:
        return _auth_failure(
            ErrorCode.PORTAL_MOVED,
            "",
            "refreshing the expired access token failed: "
            + redirected(status, location, credentials.token_url, redact),
            status,
        )
    try:
        # Not response.json(): its decode error is also a RequestException, and JSON nested
        # past the recursion limit raises RecursionError.
        body = json.loads(content)
    except (ValueError, RecursionError):
        return _auth_failure(
            ErrorCode.PROTOCOL_ERROR,
            "",
            f"refreshing the expired access token failed: the token endpoint answered "
            f"HTTP {status} without JSON",
            status,
        )
    access = body.get("access_token") if isinstance(body, dict) else None
    refresh = body.get("refresh_token") if isinstance(body, dict) else None
    if status < 400 and isinstance(access, str) and access and isinstance(refresh, str):
        credentials.rotate(access, refresh)
        return None
    error = body.get("error", "") if isinstance(body, dict) else ""
    text = body.get("error_description", "") if isinstance(body, dict) else ""
    paid = error == "PAYMENT_REQUIRED"
    code = ErrorCode.PLAN_RESTRICTED if paid else ErrorCode.INVALID_CREDENTIALS
    detail = f"{error or 'no tokens'}{': ' + str(text) if text else ''}"
    renew = error in ("invalid_grant", "invalid_client")
    advice = "; a new authorization is needed" if renew else ""
    description = redact(
        f"refreshing the expired access token failed: {detail} (HTTP {status}){advice}"
    )
    return _auth_failure(code, str(error), description, status)


def after_refresh(credentials: OAuth, portal: str) -> None:
    """Tell the application the new tokens (its callback's failure is logged, redacted)."""
    if credentials.on_refresh is not None:
        try:
            credentials.on_refresh(credentials.access_token, credentials.refresh_token or "")
        except Exception as exc:
            # Not logger.exception: the traceback may hold the new tokens (they are the
            # callback's arguments), so it is rendered and redacted first.
            trace = "".join(traceback.format_exception(exc))
            logger.error(
                "on_refresh callback failed; the new tokens are in use, but were not "
                "stored by it: %s",
                credentials.redact(trace),
            )
    logger.info("%s: access token refreshed", portal)


def _auth_failure(code: ErrorCode, raw: str, description: str, status: int | None) -> Reply:
    # The call itself did not run: the portal refused its token before the method.
    return Reply(error=ErrorInfo(code, raw, description, status), http_status=status)
