"""HTTP to the portal on aiohttp: the asyncio twin of :mod:`b24shim.transport`.

Same URLs, auth, limits, envelope and redaction as the requests transport; the pieces that
decide (how a batch is encoded, how an answer and a token refresh are read) are the same
functions. Only the I/O differs: requests are sent with an ``aiohttp.ClientSession``, waits are
``asyncio.sleep``, and the OAuth refresh is guarded by an ``asyncio.Lock`` so that every task
sharing this transport refreshes once. Needs the extra ``aiohttp``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import ssl
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import requests.utils

from b24shim._envelope import Reply, parse_batch, parse_response
from b24shim.codes import ErrorCode
from b24shim.credentials import Credentials, OAuth
from b24shim.errors import ConfigError
from b24shim.limits import (
    PACE_MARGIN,
    Clock,
    RateLimit,
    SharedLimits,
    SystemClock,
    limits_for,
)
from b24shim.transport import (
    DEFAULT_TIMEOUT,
    OWN_SESSION,
    Command,
    Timeout,
    after_refresh,
    batch_params,
    cannot_refresh,
    not_answered,
    observe_batch,
    read_token_answer,
    redirect_reply,
    redirected,
    token_failure,
    token_params,
)

if TYPE_CHECKING:
    import aiohttp

__all__ = ["AsyncTransport", "import_aiohttp"]

logger = logging.getLogger(__name__)


def import_aiohttp() -> Any:
    """The aiohttp module, or a ConfigError saying which extra to install."""
    try:
        import aiohttp  # noqa: PLC0415 - an optional extra, imported when first needed
    except ImportError:
        raise ConfigError(
            "aiohttp",
            "the asyncio facade needs aiohttp: pip install 'b24shim[aiohttp]'",
        ) from None
    return aiohttp


def _client_timeout(timeout: Timeout) -> aiohttp.ClientTimeout:
    aio = import_aiohttp()
    connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    made: aiohttp.ClientTimeout = aio.ClientTimeout(
        total=None, connect=connect, sock_connect=connect, sock_read=read
    )
    return made


def _proxy_for(url: str) -> str | None:
    """The proxy the environment names for ``url``, read once (None: direct)."""
    proxies = requests.utils.get_environ_proxies(url)
    scheme = url.partition(":")[0].lower()
    return proxies.get(scheme) or proxies.get("all")


def _was_sent(exc: BaseException) -> bool:
    """Whether the request may have reached the portal before ``exc``."""
    aio = import_aiohttp()
    not_sent = (
        aio.ClientConnectorError,  # refused, DNS, TLS handshake: nothing went out
        aio.ConnectionTimeoutError,
        aio.InvalidURL,
        ValueError,
    )
    return not isinstance(exc, not_sent)


class AsyncTransport:
    """Sends method calls to one portal with aiohttp and parses the answers.

    Args:
        credentials: a :class:`~b24shim.Webhook` or :class:`~b24shim.OAuth`.
        client: the ``aiohttp.ClientSession`` to use; one is made on first use (inside the
            running loop) when None, and closed by :meth:`aclose`.
        timeout: seconds, or ``(connect, read)``.
        rate_limit: the portal's bucket to stay under; None for no client-side limit.
        operating_limit: the portal's operating-time budget per method, seconds per 10 min.
        clock: where time is read; its ``sleep`` is awaited when it returns an awaitable,
            called when not (a manual clock), and ``asyncio.sleep`` is used for the system clock.
        shared: limits shared with other processes (:class:`~b24shim.limits.RedisLimits`).
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        client: aiohttp.ClientSession | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        rate_limit: RateLimit | None = RateLimit.STANDARD,
        operating_limit: float = 480.0,
        clock: Clock | None = None,
        shared: SharedLimits | None = None,
    ) -> None:
        self._aiohttp = import_aiohttp()
        self.credentials = credentials
        self.client = client
        self._own_client = client is None
        self._timeout = _client_timeout(timeout)
        # The environment is read once, as the requests transport does for its own session.
        self._proxy = _proxy_for(credentials.base_url) if client is None else None
        self._token_proxy = (
            _proxy_for(credentials.token_url)
            if client is None and isinstance(credentials, OAuth)
            else None
        )
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
        self._ssl: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=bundle) if bundle and client is None else True
        )
        # Only what differs from aiohttp's defaults and the session's own settings is passed
        # per request (each keyword costs aiohttp work on every call).
        self._per_request: dict[str, Any] = {}
        if client is not None:
            self._per_request["timeout"] = self._timeout
        if self._proxy is not None:
            self._per_request["proxy"] = self._proxy
        if self._ssl is not True:
            self._per_request["ssl"] = self._ssl
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.bucket, self.pacer = limits_for(
            self.portal, rate_limit, operating_limit, self.clock, shared
        )
        self.requests_sent = 0
        self.refreshes = 0
        self._urls: dict[str, str] = {}  # method -> URL (the credentials' portal is fixed)
        self._refresh_lock: asyncio.Lock | None = None
        self._lock_guard = threading.Lock()

    def _url(self, method: str) -> str:
        """``method``'s URL, remembered: a shim calls the same few methods again and again."""
        url = f"{self.credentials.base_url}{method}.json"
        if len(self._urls) < 64:  # bounded, whatever method names callers send
            self._urls[method] = url
        return url

    @property
    def portal(self) -> str:
        """``scheme://host[:port]`` of the portal; safe to log."""
        return self.credentials.portal

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` without blocking the loop (or on the manual clock)."""
        if seconds <= 0:
            return
        if isinstance(self.clock, SystemClock):
            await asyncio.sleep(seconds)
            return
        waited: object = self.clock.sleep(seconds)  # type: ignore[func-returns-value]
        if inspect.isawaitable(waited):
            await waited

    def _session(self) -> aiohttp.ClientSession:
        if self.client is None or (self._own_client and self.client.closed):
            aio = import_aiohttp()
            token = OWN_SESSION.set(True)  # no drop-in in the shim's own session
            try:
                self.client = aio.ClientSession(timeout=self._timeout)
            finally:
                OWN_SESSION.reset(token)
        return self.client

    async def aclose(self) -> None:
        """Close the session this transport made (a session passed in stays open)."""
        if self._own_client and self.client is not None and not self.client.closed:
            await self.client.close()

    async def call(self, method: str, params: Mapping[str, Any]) -> Reply:
        """Call one method. Never raises for portal, network or body failures."""
        if isinstance(self.credentials, OAuth):
            reply = await self._call_once(method, params, [method])
        else:  # a webhook: nothing to add to the body, nothing to refresh
            reply = await self._post(method, dict(params), [method])
        self._observe(method, reply)
        return reply

    async def batch(self, commands: Mapping[str, Command]) -> dict[str, Reply]:
        """Run up to 50 commands in one ``batch`` request, in order."""
        methods = [name for name, _ in commands.values()]
        envelope = await self._call_once("batch", batch_params(commands), methods)
        replies = parse_batch(envelope, list(commands))
        if envelope.ok:  # the batch method is exempt; each command counts under its own name
            observe_batch(self.pacer, commands, replies)
        return replies

    def _observe(self, method: str, reply: Reply) -> None:
        error = reply.error
        if error is not None and error.code is ErrorCode.OPERATION_TIME_LIMIT:
            self.pacer.blocked(method)
        else:
            self.pacer.observe(method, reply.time)

    async def _call_once(self, method: str, params: Mapping[str, Any], paced: list[str]) -> Reply:
        credentials = self.credentials
        if not isinstance(credentials, OAuth):
            return await self._post(method, dict(params), paced)
        token = credentials.access_token
        reply = await self._post(method, {**params, "auth": token}, paced)
        if reply.code is not ErrorCode.EXPIRED_TOKEN:
            return reply
        failure = await self._refresh(credentials, token)
        if failure is not None:
            return failure
        return await self._post(method, {**params, "auth": credentials.access_token}, paced)

    def _lock(self) -> asyncio.Lock:
        with self._lock_guard:
            if self._refresh_lock is None:
                self._refresh_lock = asyncio.Lock()
            return self._refresh_lock

    async def _refresh(self, credentials: OAuth, stale: str) -> Reply | None:
        """Refresh the access token once, however many tasks found it expired."""
        async with self._lock():
            if credentials.access_token != stale:
                return None  # another task refreshed while this one waited
            if not credentials.can_refresh:
                return cannot_refresh()
            try:
                async with self._session().get(
                    credentials.token_url,
                    params=token_params(credentials),
                    allow_redirects=False,
                    timeout=self._timeout,
                    proxy=self._token_proxy,
                    ssl=self._ssl,
                ) as response:
                    content = await response.read()
                    status, location = response.status, response.headers.get("Location", "")
            except (OSError, asyncio.TimeoutError, import_aiohttp().ClientError) as exc:
                return token_failure(credentials, f"{type(exc).__name__}: {exc}")
            failure = read_token_answer(credentials, status, content, location)
            if failure is not None:
                return failure
            self.refreshes += 1
            after_refresh(credentials, self.portal)
            return None

    async def _post(self, method: str, body: dict[str, Any], paced: list[str]) -> Reply:
        # The limits inline, not in a coroutine of their own: with no bucket configured and no
        # method near its operating limit this is two checks, and no await.
        bucket = self.bucket
        if bucket is not None:
            while (wait := bucket.reserve()) > 0:
                await self.sleep(wait)
        delay = self.pacer.due(paced)
        if delay > 0:
            await self.sleep(delay + PACE_MARGIN)
            self.pacer.waited_out(paced, delay)
        url = self._urls.get(method) or self._url(method)
        debug = logger.isEnabledFor(logging.DEBUG)
        started = time.perf_counter() if debug else 0.0
        self.requests_sent += 1
        aio = self._aiohttp
        try:
            async with self._session().post(
                url, json=body, allow_redirects=False, **self._per_request
            ) as response:
                content = await response.read()
                status = response.status
                location = response.headers.get("Location", "") if 300 <= status < 400 else ""
        except (OSError, asyncio.TimeoutError, aio.ClientError, ValueError) as exc:
            if bucket is not None:
                bucket.answered()
            description = self.credentials.redact(f"{type(exc).__name__}: {exc}")
            logger.info(
                "%s %s failed before an answer (%s)",
                self.portal,
                method,
                description,
                extra={"b24shim_method": method},
            )
            return not_answered(description, sent=_was_sent(exc))
        if bucket is not None:
            bucket.answered()
        if 300 <= status < 400:
            description = redirected(status, location, url, self.credentials.redact)
            logger.info("%s %s: %s", self.portal, method, description)
            reply = redirect_reply(status, description)
        else:
            reply = parse_response(status, content)
        if debug:  # the arguments cost more than the call when the level is off
            logger.debug(
                "%s %s -> %s %s in %.1f ms",
                self.portal,
                method,
                status,
                "ok" if reply.ok else reply.code,
                (time.perf_counter() - started) * 1000,
                extra={"b24shim_method": method},
            )
        return reply
