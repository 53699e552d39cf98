"""Process-wide installation: every new session of requests, aiohttp and httpx, and urlopen."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import requests

from b24shim.adapters._aiohttp import middleware_for
from b24shim.adapters._calls import ShimSource
from b24shim.adapters._httpx import async_transport_for, transport_for
from b24shim.adapters._requests import adapter_for
from b24shim.adapters._urllib import handler_for, put_in_front
from b24shim.async_shim import AsyncLeadShim
from b24shim.shim import LeadShim

__all__ = ["install", "reset"]

_install_lock = threading.Lock()
# Per installation: its token, and the shims of the requests and the aiohttp drop-ins.
_installed: list[tuple[object, ShimSource[LeadShim], ShimSource[AsyncLeadShim]]] = []
# Per patched class: the class, its own __init__, and ours.
_patches: list[tuple[type, Callable[..., None], Callable[..., None]]] = []
# What else the first installation changed, each with its undo (urllib's opener).
_restores: list[Callable[[], None]] = []


def _current_source() -> ShimSource[LeadShim] | None:
    with _install_lock:
        return _installed[-1][1] if _installed else None


def _current_async_source() -> ShimSource[AsyncLeadShim] | None:
    with _install_lock:
        return _installed[-1][2] if _installed else None


def _patch_requests() -> None:
    original = requests.Session.__init__

    @functools.wraps(original)
    def __init__(self: requests.Session, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        current = _current_source()
        if current is not None:
            adapter = adapter_for(current)
            self.mount("https://", adapter)
            self.mount("http://", adapter)

    requests.Session.__init__ = __init__  # type: ignore[method-assign]
    _patches.append((requests.Session, original, __init__))


def _patch_aiohttp() -> None:
    try:
        import aiohttp  # noqa: PLC0415 - covered only where it is installed
    except ImportError:
        return
    original = aiohttp.ClientSession.__init__

    @functools.wraps(original)
    def __init__(self: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
        current = _current_async_source()
        if current is not None:
            kwargs["middlewares"] = (
                *kwargs.get("middlewares", ()),
                middleware_for(current),
            )
        original(self, *args, **kwargs)

    aiohttp.ClientSession.__init__ = __init__  # type: ignore[method-assign]
    _patches.append((aiohttp.ClientSession, original, __init__))


def _patch_httpx() -> None:
    try:
        import httpx  # noqa: PLC0415 - covered only where it is installed
    except ImportError:
        return
    for client, wrap, current in (
        (httpx.Client, transport_for, _current_source),
        (httpx.AsyncClient, async_transport_for, _current_async_source),
    ):
        original = client.__init__

        def __init__(
            self: Any,
            *args: Any,
            _original: Callable[..., None] = original,
            _wrap: Callable[..., Any] = wrap,
            _current: Callable[[], Any] = current,
            **kwargs: Any,
        ) -> None:
            _original(self, *args, **kwargs)
            source = _current()
            if source is not None:
                # httpx keeps the transport it built (with the client's verify, cert, proxy
                # and http2 settings) in _transport; it is wrapped, not rebuilt, to keep them.
                self._transport = _wrap(source, self._transport)

        functools.update_wrapper(__init__, original)
        client.__init__ = __init__  # type: ignore[method-assign]
        _patches.append((client, original, __init__))


def _shim_of_current() -> LeadShim | None:
    source = _current_source()
    return source.get() if source is not None else None


def _patch_urllib() -> None:
    # urlopen (pybitrix24 calls it) sends through one process-wide opener, not a new session
    # per call: its handler asks at each call for the newest installation's shim.
    _restores.append(put_in_front(handler_for(_shim_of_current)))


def _unpatch() -> None:
    while _restores:
        _restores.pop()()
    for cls, original, patched in _patches:
        if cls.__init__ is patched:  # type: ignore[misc]
            cls.__init__ = original  # type: ignore[misc]
        # else: someone patched over us; our wrapper stays but does nothing any more.
    _patches.clear()


def install(shim: LeadShim | AsyncLeadShim | None = None) -> Callable[[], None]:
    """Route the ``crm.lead.delete`` calls of every HTTP session made from now on.

    Covers every library that is importable: a :class:`ShimAdapter` is mounted on every new
    ``requests.Session`` (including the one each ``requests.get``/``requests.post`` makes),
    a :class:`ShimMiddleware` is added to every new ``aiohttp.ClientSession`` (including
    sessions a client library makes inside itself, as bitrix24-rest does per call), and every
    new ``httpx.Client`` / ``httpx.AsyncClient`` sends through a :class:`ShimTransport` /
    :class:`AsyncShimTransport` around the transport it built, and a :class:`ShimHandler` is
    added to the opener ``urllib.request.urlopen`` uses (the one ``install_opener`` set, kept
    with all its handlers, or a default one; ``urlopen(context=...)`` / ``cafile=`` build an
    opener of their own per call and are not covered). Sessions
    that already exist are not changed. Installing again stacks: the newest installation's
    shims are used until it is undone.

    Args:
        shim: the facade to route with, used by the drop-ins it fits (a ``LeadShim`` by the
            requests and the sync httpx ones, an ``AsyncLeadShim`` by the aiohttp and the
            async httpx ones); the others build theirs
            with ``from_env()`` on first use. None: all from the environment.

    Returns:
        A callable that undoes this installation for every library (idempotent,
        thread-safe). When the last installation is undone, each patched ``__init__`` is
        restored exactly, and urllib's opener is the one installed before, without the
        handler. Sessions created meanwhile keep their drop-in.
    """
    token = object()
    sources = (
        ShimSource(shim if isinstance(shim, LeadShim) else None, LeadShim.from_env),
        ShimSource(shim if isinstance(shim, AsyncLeadShim) else None, AsyncLeadShim.from_env),
    )
    with _install_lock:
        if not _installed:
            _patch_requests()
            _patch_aiohttp()
            _patch_httpx()
            _patch_urllib()
        _installed.append((token, *sources))

    def undo() -> None:
        with _install_lock:
            remaining = [entry for entry in _installed if entry[0] is not token]
            if len(remaining) == len(_installed):
                return  # already undone
            _installed[:] = remaining
            if not _installed:
                _unpatch()

    return undo


def reset() -> None:
    """Undo every installation (tests only)."""
    with _install_lock:
        _installed.clear()
        _unpatch()
