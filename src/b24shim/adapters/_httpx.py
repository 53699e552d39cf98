"""The httpx drop-ins: :class:`ShimTransport` and :class:`AsyncShimTransport`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from b24shim.adapters._calls import (
    DROPPED_HEADERS,
    JSON_TYPE,
    Call,
    ShimSource,
    aimed_url,
    encode_json,
    method_of,
    read_call,
)
from b24shim.adapters._flows import Answer, Forward, Send, adrive, drive, flow_for
from b24shim.async_shim import AsyncLeadShim
from b24shim.shim import LeadShim

if TYPE_CHECKING:
    import httpx

try:  # the httpx drop-ins subclass its transports when it is installed (extra httpx)
    import httpx as _httpx

    _BASE: type = _httpx.BaseTransport
    _ASYNC_BASE: type = _httpx.AsyncBaseTransport
except ImportError:  # pragma: no cover - without the extra, constructing them fails clearly
    _BASE = _ASYNC_BASE = object

__all__ = ["AsyncShimTransport", "ShimTransport", "async_transport_for", "transport_for"]


def _call_of(shim: LeadShim | AsyncLeadShim | None, request: httpx.Request) -> Call | None:
    """The call an httpx request makes, or None when it is not the shim's to answer."""
    url = str(request.url)
    method = method_of(url) if shim is not None else None
    if shim is None or method is None:
        return None
    return read_call(
        shim.transport.credentials,
        method,
        url,
        request.headers,
        lambda: request.content,  # httpx raises RequestNotRead for a stream not yet read
    )


def _aimed(request: httpx.Request, call: Call, action: Forward | Send) -> httpx.Request:
    """The request to send for ``action``: the caller's own, or it re-aimed."""
    if isinstance(action, Forward):
        return request
    import httpx  # noqa: PLC0415 - the extra, present when this runs

    url = aimed_url(
        str(request.url),
        call,
        action.method,
        keep_query=action.keep_query,
    )
    headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in DROPPED_HEADERS]
    headers.append(("Content-Type", "application/json"))
    return httpx.Request(
        "POST",
        url,
        headers=headers,
        content=encode_json(dict(action.params)),
        extensions=request.extensions,
    )


def _answer(request: httpx.Request, last: httpx.Response | None, answer: Answer) -> httpx.Response:
    import httpx  # noqa: PLC0415

    if answer.content is None and last is not None:
        return last
    return httpx.Response(
        answer.status or (last.status_code if last is not None else 200),
        headers={"Content-Type": JSON_TYPE},
        content=answer.content,
        request=request,
    )


class ShimTransport(_BASE):  # type: ignore[misc]
    """An httpx transport that answers ``crm.lead.delete`` through the shim.

    ``httpx.Client(transport=ShimTransport())``: deletes of the shim's portal, single or in
    ``batch``, are answered with exactly what ``crm.lead.delete`` would have answered, whatever
    the stage; every other request goes through ``transport`` (an ``httpx.HTTPTransport`` by
    default) untouched. The routed calls are sent the same way, with the caller's credentials.

    Args:
        shim: the :class:`~b24shim.LeadShim` to route with; ``LeadShim.from_env()``, built on
            first use, when None.
        transport: the transport that sends (``httpx.HTTPTransport()`` when None).
    """

    def __init__(self, shim: LeadShim | None = None, transport: Any = None) -> None:
        import httpx  # noqa: PLC0415

        self._source: ShimSource[LeadShim] = ShimSource(shim, LeadShim.from_env)
        self._transport = transport if transport is not None else httpx.HTTPTransport()

    def __repr__(self) -> str:
        return f"<ShimTransport shim={self._source!r}>"

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Answer a ``crm.lead.delete`` of the shim's portal; pass anything else through."""
        shim = self._source.get() if method_of(str(request.url)) is not None else None
        call = _call_of(shim, request)
        if shim is None or call is None:
            return self._transport.handle_request(request)
        last: list[httpx.Response] = []

        def send(action: Forward | Send) -> tuple[int, bytes]:
            if last:
                last.pop().close()
            response = self._transport.handle_request(_aimed(request, call, action))
            last.append(response)
            return response.status_code, response.read()

        answer = drive(flow_for(shim, call), shim, send)
        return _answer(request, last[-1] if last else None, answer)

    def close(self) -> None:
        """Close the transport that sends."""
        self._transport.close()


class AsyncShimTransport(_ASYNC_BASE):  # type: ignore[misc]
    """The asyncio twin of :class:`ShimTransport`: ``httpx.AsyncClient(transport=...)``.

    Args:
        shim: the :class:`~b24shim.AsyncLeadShim` to route with; ``AsyncLeadShim.from_env()``,
            built on first use, when None.
        transport: the transport that sends (``httpx.AsyncHTTPTransport()`` when None).
    """

    def __init__(self, shim: AsyncLeadShim | None = None, transport: Any = None) -> None:
        import httpx  # noqa: PLC0415

        self._source: ShimSource[AsyncLeadShim] = ShimSource(shim, AsyncLeadShim.from_env)
        self._transport = transport if transport is not None else httpx.AsyncHTTPTransport()

    def __repr__(self) -> str:
        return f"<AsyncShimTransport shim={self._source!r}>"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer a ``crm.lead.delete`` of the shim's portal; pass anything else through."""
        shim = self._source.get() if method_of(str(request.url)) is not None else None
        call = _call_of(shim, request)
        if shim is None or call is None:
            return await self._transport.handle_async_request(request)
        last: list[httpx.Response] = []

        async def send(action: Forward | Send) -> tuple[int, bytes]:
            if last:
                await last.pop().aclose()
            response = await self._transport.handle_async_request(_aimed(request, call, action))
            last.append(response)
            return response.status_code, await response.aread()

        answer = await adrive(flow_for(shim, call), shim, send)
        return _answer(request, last[-1] if last else None, answer)

    async def aclose(self) -> None:
        """Close the transport that sends."""
        await self._transport.aclose()


def transport_for(source: ShimSource[LeadShim], transport: Any) -> ShimTransport:
    """A :class:`ShimTransport` around ``transport`` using the shim of ``source``."""
    made = ShimTransport(transport=transport)
    made._source = source
    return made


def async_transport_for(source: ShimSource[AsyncLeadShim], transport: Any) -> AsyncShimTransport:
    """An :class:`AsyncShimTransport` around ``transport`` using the shim of ``source``."""
    made = AsyncShimTransport(transport=transport)
    made._source = source
    return made
