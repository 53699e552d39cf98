"""The urllib drop-in: :class:`ShimHandler`, a ``urllib.request`` handler that routes deletes.

Code on ``urllib.request`` (pybitrix24, scripts calling ``urlopen``) goes through an
``OpenerDirector``: a chain of handlers ordered by ``handler_order``. :class:`ShimHandler` sits
at the front of the chain for ``http`` and ``https``; for a call that is not the shim's it
answers None and the next handler (the opener's own HTTP handler) sends it, untouched. For a
``crm.lead.delete`` of the shim's portal it runs the flow and sends through the rest of the same
opener, so its proxies, TLS context, cookies and headers apply to the routed calls too.
"""

from __future__ import annotations

import contextlib
import contextvars
import http.client
import io
import urllib.error
import urllib.request
import urllib.response
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from requests.structures import CaseInsensitiveDict

from b24shim.adapters._calls import (
    DROPPED_HEADERS,
    JSON_TYPE,
    Call,
    ShimSource,
    aimed_url,
    encode_json,
    method_of,
    read_call,
    reason_of,
)
from b24shim.adapters._flows import Answer, Forward, Send, drive, flow_for
from b24shim.shim import LeadShim

__all__ = ["ShimHandler", "handler_for", "put_in_front"]

# Set while a handler routes a call: the requests it sends itself go on to the next handler.
# A context variable rather than a thread-local: the handler's own requests run in the same
# context as the call they route, in a thread or in an executor of an event loop.
_routing: contextvars.ContextVar[bool] = contextvars.ContextVar("b24shim_urllib", default=False)


class _Source(Protocol):
    def get(self) -> LeadShim | None: ...


@contextlib.contextmanager
def _routing_call() -> Iterator[None]:
    token = _routing.set(True)
    try:
        yield
    finally:
        _routing.reset(token)


class _Response(urllib.response.addinfourl):
    """The handler's answer: what urllib's response processors read, as from the portal."""

    def __init__(self, content: bytes, headers: http.client.HTTPMessage, url: str, code: int):
        super().__init__(io.BytesIO(content), headers, url, code)
        self.reason = self.msg = reason_of(code)


def _headers(pairs: Any) -> http.client.HTTPMessage:
    message = http.client.HTTPMessage()
    for name, value in pairs:
        message[name] = value
    return message


class ShimHandler(urllib.request.BaseHandler):
    """A ``urllib.request`` handler that answers ``crm.lead.delete`` through the shim.

    ``urllib.request.build_opener(ShimHandler())`` (or :func:`~b24shim.adapters.install`, for
    ``urlopen``): deletes of the shim's portal, single or inside ``batch``, go through the stage
    of the current environment and are answered with exactly what ``crm.lead.delete`` would
    have answered, a 4xx still raised as ``urllib.error.HTTPError`` with the portal's body by
    the opener; every other request goes on to the opener's next handler, untouched.

    A routed call is the caller's request re-aimed (``crm.item.delete``, or a batch with the
    read checks of the verified stages) and sent through the same opener with the caller's
    headers and timeout; a connection failure reaches the caller as ``urllib.error.URLError``.

    Args:
        shim: the :class:`~b24shim.LeadShim` to route with; ``LeadShim.from_env()``, built on
            the first call that may be intercepted, when None.
    """

    # Before ProxyHandler (100), which rewrites the request for its proxy, and the HTTP
    # handlers (500): the handler reads the caller's request as it came.
    handler_order = 50

    def __init__(self, shim: LeadShim | None = None) -> None:
        self._source: _Source = ShimSource(shim, LeadShim.from_env)

    def __repr__(self) -> str:
        return f"<ShimHandler shim={self._source!r}>"

    def http_open(self, req: urllib.request.Request) -> urllib.response.addinfourl | None:
        """Answer a ``crm.lead.delete`` of the shim's portal; None (the next handler) else."""
        if _routing.get():
            return None  # a request this handler sends itself
        url = req.full_url
        method = method_of(url)
        shim = self._source.get() if method is not None else None
        if shim is None or method is None:
            return None
        headers = CaseInsensitiveDict(req.header_items())
        call = read_call(shim.transport.credentials, method, url, headers, lambda: req.data)
        if call is None:
            return None
        with _routing_call():
            return self._route(shim, req, call)

    https_open = http_open

    def _route(
        self, shim: LeadShim, req: urllib.request.Request, call: Call
    ) -> urllib.response.addinfourl:
        last: list[tuple[Any, bytes]] = []  # the last response, read

        def send(action: Forward | Send) -> tuple[int, bytes]:
            last.clear()
            if isinstance(action, Forward):
                # The caller's own request: whatever it meets is what legacy code met.
                response, content = self._open(req, req)
            else:
                try:
                    response, content = self._open(req, _aimed(req, call, action))
                except (OSError, http.client.HTTPException) as exc:
                    raise _masked(shim, action, exc) from None
            last.append((response, content))
            return response.getcode(), content

        answer = drive(flow_for(shim, call), shim, send)
        return _answer(req, last[-1] if last else None, answer)

    def _open(
        self, caller: urllib.request.Request, sent: urllib.request.Request
    ) -> tuple[Any, bytes]:
        """Send ``sent`` through the rest of the opener; its response and body, read."""
        try:
            response = self.parent.open(sent, timeout=caller.timeout)
        except urllib.error.HTTPError as error:
            # The opener raises 4xx/5xx answers; here they are answers like any other.
            response = error
        with response:
            return response, response.read()


def _aimed(req: urllib.request.Request, call: Call, action: Send) -> urllib.request.Request:
    """The caller's request aimed at ``action.method``, with ``action.params`` as JSON."""
    url = req.full_url
    sent = urllib.request.Request(
        aimed_url(url, call, action.method, keep_query=action.keep_query),
        data=encode_json(dict(action.params)),
        method="POST",
        origin_req_host=req.origin_req_host,
        unverifiable=req.unverifiable,
    )
    for name, value in req.headers.items():
        if name.lower() not in DROPPED_HEADERS:
            sent.add_header(name, value)
    for name, value in req.unredirected_hdrs.items():
        if name.lower() not in DROPPED_HEADERS and name.lower() != "host":
            sent.add_unredirected_header(name, value)
    sent.add_header("Content-Type", "application/json")
    return sent


def _masked(shim: LeadShim, action: Send, exc: BaseException) -> urllib.error.URLError:
    """urllib's own exception for a routed call that got no answer, its secrets masked.

    urllib's messages may quote the URL, and so the webhook code or the token.
    """
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    kind = TimeoutError if isinstance(reason, TimeoutError) else OSError
    description = shim.transport.credentials.redact(f"{type(exc).__name__}: {exc}")
    return urllib.error.URLError(
        kind(f"b24shim: {action.what} failed before an answer: {description}")
    )


def _answer(
    req: urllib.request.Request, last: tuple[Any, bytes] | None, answer: Answer
) -> urllib.response.addinfourl:
    if last is not None and answer.status is None:
        response, content = last
        headers = response.headers
        if answer.content is not None:  # a batch's answer, rewritten
            content = answer.content
            headers = _headers(
                (name, value)
                for name, value in headers.items()
                if name.lower() not in ("content-length", "content-encoding", "transfer-encoding")
            )
            headers["Content-Length"] = str(len(content))
        made = _Response(content, headers, response.geturl(), response.getcode())
        made.reason = made.msg = response.reason  # the portal's own phrase
        return made
    content = answer.content or b""
    status = answer.status if answer.status is not None else 200
    headers = _headers([("Content-Type", JSON_TYPE), ("Content-Length", str(len(content)))])
    return _Response(content, headers, req.full_url, status)


class _Asked:
    """A source that asks, at each call, which shim to use (the newest installation's)."""

    def __init__(self, ask: Callable[[], LeadShim | None]) -> None:
        self._ask = ask

    def get(self) -> LeadShim | None:
        return self._ask()

    def __repr__(self) -> str:
        return "the shim of the newest install()"


def handler_for(ask: Callable[[], LeadShim | None]) -> ShimHandler:
    """A :class:`ShimHandler` routing with the shim ``ask()`` gives at each call."""
    handler = ShimHandler()
    handler._source = _Asked(ask)
    return handler


def put_in_front(handler: ShimHandler) -> Callable[[], None]:
    """Add ``handler`` to the opener ``urlopen`` uses; return what takes it out again.

    ``urlopen`` (without ``context`` or ``cafile``) sends through the opener
    ``install_opener`` set, or a ``build_opener()`` it makes on first use. The handler is added
    to that opener, so an opener the user installed keeps all its handlers; when none was
    installed, a ``build_opener()`` is made now (so the proxy variables are read now, not at
    the first ``urlopen``) and installed. The undo takes the handler out of the opener and,
    when the opener was made here and is still installed, installs none again, as before.
    """
    # urllib.request offers no way to read the installed opener: urlopen reads the module's
    # private _opener. This is the one place that reads it.
    previous: urllib.request.OpenerDirector | None = getattr(urllib.request, "_opener", None)
    opener = previous if previous is not None else urllib.request.build_opener()
    before = {id(table): set(table) for table in _tables(opener)}
    opener.add_handler(handler)
    if previous is None:
        urllib.request.install_opener(opener)

    def undo() -> None:
        state = vars(opener)
        if handler in state["handlers"]:
            state["handlers"].remove(handler)
        for table in _tables(opener):
            for key in list(table):
                chain = table[key]
                if isinstance(chain, list) and handler in chain:
                    chain.remove(handler)
                    if not chain and key not in before.get(id(table), ()):
                        del table[key]  # a chain the handler's addition made
        if previous is None and getattr(urllib.request, "_opener", None) is opener:
            urllib.request.install_opener(None)

    return undo


def _tables(opener: urllib.request.OpenerDirector) -> list[dict[Any, Any]]:
    """The opener's chains of handlers, by protocol, which ``add_handler`` fills.

    ``OpenerDirector`` has no ``remove_handler``: taking a handler out means editing these
    tables (``handlers``, ``handle_open``, ``process_request``, ``process_response``, set in
    its ``__init__`` since Python 2 and unlisted in the type stubs).
    """
    state = vars(opener)
    return [state["handle_open"], state["process_request"], state["process_response"]]
