"""The ``requests`` drop-in: :class:`ShimAdapter`, a transport adapter that routes deletes."""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping
from typing import Any

import requests
import requests.adapters
import requests.structures
import urllib3

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

__all__ = ["ShimAdapter", "adapter_for"]

_local = threading.local()


def _inside() -> bool:
    return getattr(_local, "depth", 0) > 0


class ShimAdapter(requests.adapters.HTTPAdapter):
    """A ``requests`` adapter that answers ``crm.lead.delete`` through the shim.

    Mount it on a session (``session.mount("https://", ShimAdapter())``) or use
    :func:`~b24shim.adapters.install`. Deletes of the shim's portal go through the stage of the
    current environment and are answered with exactly what ``crm.lead.delete`` would have
    answered; every other request passes through untouched.

    A routed call is the caller's own request re-aimed (``crm.item.delete``, or a batch with
    the read checks of the verified stages) and sent by this adapter, with the session's
    settings and the caller's credentials; the shim's engine decides what to send, reads the
    answers and retries as for ``LeadShim``.

    Args:
        shim: the :class:`~b24shim.LeadShim` to route with; ``LeadShim.from_env()``, built on
            the first call that may be intercepted, when None. (Build it yourself at start-up
            to find a configuration error at once: a failing ``from_env`` is logged and the
            calls pass through unchanged.)
        **kwargs: passed to ``requests.adapters.HTTPAdapter`` (``max_retries``, pool sizes).
    """

    def __init__(self, shim: LeadShim | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._source: ShimSource[LeadShim] = ShimSource(shim, LeadShim.from_env)

    def __repr__(self) -> str:
        return f"<ShimAdapter shim={self._source!r}>"

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Answer a ``crm.lead.delete`` of the shim's portal; pass anything else through."""
        kwargs: dict[str, Any] = {
            "stream": stream,
            "timeout": timeout,
            "verify": verify,
            "cert": cert,
            "proxies": proxies,
        }
        url = request.url or ""
        method = None if _inside() else method_of(url)  # inside: the shim's own request
        shim = self._source.get() if method is not None else None
        call = None
        if shim is not None and method is not None:
            credentials = shim.transport.credentials
            call = read_call(credentials, method, url, request.headers, lambda: request.body)
        if shim is None or call is None:
            return super().send(request, **kwargs)
        depth = getattr(_local, "depth", 0)
        _local.depth = depth + 1  # the shim's own requests, made meanwhile, pass through
        try:
            return self._route(shim, request, call, kwargs)
        finally:
            _local.depth = depth

    def _route(
        self,
        shim: LeadShim,
        request: requests.PreparedRequest,
        call: Call,
        kwargs: dict[str, Any],
    ) -> requests.Response:
        last: list[requests.Response] = []

        def send(action: Forward | Send) -> tuple[int, bytes]:
            if last:
                last.pop().close()
            if isinstance(action, Forward):
                response = super(ShimAdapter, self).send(request, **kwargs)
            else:
                response = self._send_aimed(shim, request, call, action, kwargs)
            last.append(response)
            return response.status_code, response.content

        answer = drive(flow_for(shim, call), shim, send)
        return self._answer(request, last[-1] if last else None, answer, stream=kwargs["stream"])

    def _send_aimed(
        self,
        shim: LeadShim,
        request: requests.PreparedRequest,
        call: Call,
        action: Send,
        kwargs: dict[str, Any],
    ) -> requests.Response:
        # Built, not request.copy(): the copy's cookie jar is never read by HTTPAdapter.send
        # (the Cookie header is in the headers already) and copying it costs more than the rest.
        url = request.url or ""
        content = encode_json(dict(action.params))
        sent = requests.PreparedRequest()
        sent.method = "POST"
        sent.url = aimed_url(url, call, action.method, keep_query=action.keep_query)
        # The caller's headers but those of its old body, picked in one pass (copying them and
        # popping four would raise and catch a KeyError for each one absent), into a plain
        # dict: HTTPAdapter.send and urllib3 only iterate the headers and test
        # "Content-Length" in them, spelled as here, and a CaseInsensitiveDict would cost a
        # Python call per header. The response keeps the caller's request, not this one.
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in DROPPED_HEADERS
        }
        headers["Content-Type"] = "application/json"
        headers["Content-Length"] = str(len(content))
        sent.headers = headers  # type: ignore[assignment]
        sent.body = content
        try:
            return super().send(sent, **kwargs)
        except requests.RequestException as exc:
            # The same kind of exception as the legacy call would have raised, for the
            # legacy request; its message says what failed, with the secrets masked (the
            # library's own message holds the URL, and so the webhook code).
            kind = type(exc)
            cls = (
                kind
                if issubclass(kind, (requests.Timeout, requests.ConnectionError))
                else (requests.ConnectionError)
            )
            description = shim.transport.credentials.redact(f"{kind.__name__}: {exc}")
            raise cls(
                f"b24shim: {action.what} failed before an answer: {description}",
                request=request,
            ) from None

    def _answer(
        self,
        request: requests.PreparedRequest,
        last: requests.Response | None,
        answer: Answer,
        *,
        stream: bool,
    ) -> requests.Response:
        if last is not None and answer.status is None:
            if answer.content is not None:
                last._content = answer.content  # requests' documented-by-use body slot
                for header in ("Content-Encoding", "Transfer-Encoding"):
                    last.headers.pop(header, None)
                last.headers["Content-Length"] = str(len(answer.content))
            last.request = request
            last.url = request.url or last.url
            return last
        status = answer.status if answer.status is not None else 200
        content = answer.content or b""
        reason = reason_of(status)
        if last is None or stream:  # answered without a request, or to be read from raw
            raw = urllib3.HTTPResponse(
                body=io.BytesIO(content),
                headers={"Content-Type": JSON_TYPE, "Content-Length": str(len(content))},
                status=status,
                reason=reason,
                preload_content=False,
                decode_content=False,
                request_method=request.method,
                request_url=request.url,
            )
            return self.build_response(request, raw)
        # The routed call's response, already read, made the legacy one: cheaper than building
        # a new one, and it keeps ``elapsed`` and the connection's bookkeeping. (With
        # stream=True a new one is built above: its ``raw`` must give the legacy body.)
        last.status_code = status
        last.reason = reason
        last._content = content  # requests keeps the read body here; there is no setter
        last.headers = requests.structures.CaseInsensitiveDict(
            {"Content-Type": JSON_TYPE, "Content-Length": str(len(content))}
        )
        last.encoding = "utf-8"
        last.request = request
        last.url = request.url or last.url
        return last


def adapter_for(source: ShimSource[LeadShim]) -> ShimAdapter:
    """A :class:`ShimAdapter` using the shim of ``source`` (shared by many adapters)."""
    adapter = ShimAdapter()
    adapter._source = source
    return adapter
