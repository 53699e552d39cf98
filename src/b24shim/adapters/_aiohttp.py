"""The aiohttp drop-in: :class:`ShimMiddleware`, a client middleware that routes deletes."""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from b24shim.adapters._calls import (
    DROPPED_HEADERS,
    JSON_TYPE,
    Call,
    ShimSource,
    Unreadable,
    aimed_url,
    encode_json,
    method_of,
    read_call,
    reason_of,
)
from b24shim.adapters._flows import Forward, Send, adrive, flow_for
from b24shim.async_shim import AsyncLeadShim

if TYPE_CHECKING:
    import aiohttp

__all__ = ["ShimMiddleware", "middleware_for"]

# Set while the middleware answers a call: the facade's own requests (through a session that
# carries the middleware too) pass through.
_answering: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "b24shim_answering", default=False
)
_Handler = Callable[["aiohttp.ClientRequest"], Awaitable["aiohttp.ClientResponse"]]


class ShimMiddleware:
    """An aiohttp client middleware that answers ``crm.lead.delete`` through the shim.

    ``aiohttp.ClientSession(middlewares=[ShimMiddleware()])`` (aiohttp >= 3.12; fast_bitrix24
    takes such a session as ``Bitrix(webhook, client=session)``), or
    :func:`~b24shim.adapters.install` for sessions a library makes itself. Deletes of the
    shim's portal, single or inside ``batch``, go through the stage of the current environment
    and are answered with exactly what ``crm.lead.delete`` would have answered; every other
    request passes through untouched.

    The routed calls are sent through the same session, with the caller's own credentials
    (the webhook in the URL, the ``auth`` token in the parameters), so the client's own
    limits and token handling stay in charge; the engine of the facade decides what to send,
    reads the answers and retries as for ``AsyncLeadShim``.

    Args:
        shim: the :class:`~b24shim.AsyncLeadShim` to route with; ``AsyncLeadShim.from_env()``,
            built on the first call that may be intercepted, when None.
    """

    def __init__(self, shim: AsyncLeadShim | None = None) -> None:
        self._source: ShimSource[AsyncLeadShim] = ShimSource(shim, AsyncLeadShim.from_env)

    def __repr__(self) -> str:
        return f"<ShimMiddleware shim={self._source!r}>"

    async def __call__(
        self, request: aiohttp.ClientRequest, handler: _Handler
    ) -> aiohttp.ClientResponse:
        """Answer a ``crm.lead.delete`` of the shim's portal; pass anything else through."""
        if _answering.get():
            return await handler(request)
        url = str(request.url)
        method = method_of(url)
        shim = self._source.get() if method is not None else None
        if method is None or shim is None:
            return await handler(request)
        call = read_call(
            shim.transport.credentials,
            method,
            url,
            request.headers,
            lambda: _aiohttp_body(request),
        )
        if call is None:
            return await handler(request)
        token = _answering.set(True)
        try:
            return await _route(shim, request, handler, call)
        finally:
            _answering.reset(token)


async def _route(
    shim: AsyncLeadShim,
    request: aiohttp.ClientRequest,
    handler: _Handler,
    call: Call,
) -> aiohttp.ClientResponse:
    """Drive the call's flow with aiohttp: the caller's request is sent, re-aimed."""
    last: list[aiohttp.ClientResponse] = []

    async def send(action: Forward | Send) -> tuple[int, bytes]:
        if isinstance(action, Send):
            await _aim(request, call, action)
        if last:
            last.pop().release()
        response = await handler(request)
        last.append(response)
        return response.status, await response.read()

    answer = await adrive(flow_for(shim, call, alone=False), shim, send)
    response = last[-1]  # every flow of this drop-in sends at least once (alone=False)
    if answer.content is not None:
        _answer_with(response, answer.status or response.status, answer.content)
    return response


def _aiohttp_body(request: aiohttp.ClientRequest) -> bytes | None:
    """The body an aiohttp request will send, as bytes (None: nothing readable)."""
    body: object = request.body
    if body is None or isinstance(body, (bytes, bytearray)):
        return bytes(body or b"")  # aiohttp keeps an empty body as b""
    # aiohttp's BytesPayload and JsonPayload keep their bytes in _value and offer no public
    # way to read them without consuming a stream; other payloads (streams) pass through.
    value = getattr(body, "_value", None)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    if getattr(body, "size", None) == 0:
        return None
    raise Unreadable("a streamed body")


async def _aim(request: aiohttp.ClientRequest, call: Call, action: Send) -> None:
    """Point ``request`` at ``action``'s method with its parameters, as JSON."""
    from yarl import URL  # noqa: PLC0415 - aiohttp's own

    url = aimed_url(
        str(request.url),
        call,
        action.method,
        keep_query=action.keep_query,
    )
    request.url = URL(url, encoded=True)
    request.method = "POST"
    for header in DROPPED_HEADERS:
        request.headers.pop(header, None)
    await request.update_body(encode_json(dict(action.params)))
    request.headers["Content-Type"] = "application/json"


def _answer_with(response: aiohttp.ClientResponse, status: int, content: bytes) -> None:
    """Make ``response`` (already read) carry the legacy answer.

    aiohttp has no public way to build a response or to replace a read body; it keeps the
    read body in ``_body`` (what ``read()``, ``text()`` and ``json()`` return), so the answer
    is put there, with the status and ``Content-Length`` to match. The test suite runs this
    against the lowest and the newest aiohttp it allows.
    """
    from multidict import CIMultiDict, CIMultiDictProxy  # noqa: PLC0415 - aiohttp's own

    response.status = status
    response.reason = reason_of(status)
    response._body = content
    headers = CIMultiDict(response.headers)
    for header in ("Content-Encoding", "Transfer-Encoding"):
        headers.popall(header, None)
    headers["Content-Length"] = str(len(content))
    headers["Content-Type"] = JSON_TYPE
    response._headers = CIMultiDictProxy(headers)


def middleware_for(source: ShimSource[AsyncLeadShim]) -> ShimMiddleware:
    """A :class:`ShimMiddleware` using the shim of ``source`` (shared by many sessions)."""
    middleware = ShimMiddleware()
    middleware._source = source
    return middleware
