"""Drop-in for code that cannot change: a ``requests`` transport adapter that routes deletes.

Legacy integrations often build the REST call themselves (``requests.post(webhook +
"crm.lead.delete", ...)``, ``batch`` strings such as ``"crm.lead.delete?id=5"``) or go through
a client library built on ``requests``. :class:`ShimAdapter`, mounted on a ``requests.Session``
(or on every new session with :func:`install`), intercepts the ``crm.lead.delete`` calls to the
shim's portal, routes them through the stage of the current environment, and answers with
exactly what ``crm.lead.delete`` would have answered. Every other request goes through
untouched, byte for byte, to the ordinary ``HTTPAdapter``.

What counts as such a call (spec 1.4, 2.2, 6, 7):

- the URL is the shim's portal in the shim's own form: ``<portal>/rest/<user>/<code>/<method>``
  for a webhook (same user and code), ``<portal>/rest/<method>`` with an ``auth`` /
  ``access_token`` parameter or a ``Bearer`` header for OAuth;
- the method is ``crm.lead.delete`` in any capitalisation, with or without ``.json``, or
  ``batch`` holding ``crm.lead.delete?...`` commands;
- parameters come from the query string united with the body (form, JSON, or raw
  ``parse_str``), body winning; ``ID`` wins over ``id``.

An id the shim refuses (``"12abc"``, ``1.9``, ``true``, arrays: values PHP's ``(int)`` would
cast to some other lead) is answered as the portal answers an invalid id, without a request.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import http
import io
import json
import logging
import re
import threading
from collections.abc import Awaitable, Callable, Generator, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

import attrs
import requests
import requests.adapters
import urllib3

from b24shim._describe import describe
from b24shim._dropin import (
    BATCH,
    DELETE,
    INVALID_ID_ANSWER,
    coerced_passes,
    encode_json,
    method_of,
    pick_id,
    same_identity,
)
from b24shim._envelope import Reply, parse_batch, parse_response
from b24shim._php import array_key, json_shape, parse_str, to_bool
from b24shim._plan import Plan
from b24shim.async_shim import AsyncLeadShim
from b24shim.codes import ErrorCode
from b24shim.credentials import OAuth
from b24shim.differences import VerificationReads
from b24shim.engine import Wait
from b24shim.errors import ConfigError, InvalidLeadId
from b24shim.ids import parse_lead_id
from b24shim.result import DeleteResult
from b24shim.routes import ITEM, LEGACY, Read
from b24shim.shim import LeadShim
from b24shim.transport import batch_params, encode_query

if TYPE_CHECKING:
    import aiohttp
    import httpx

try:  # the httpx drop-ins subclass its transports when it is installed (extra httpx)
    import httpx as _httpx

    _HTTPX_BASE: type = _httpx.BaseTransport
    _HTTPX_ASYNC_BASE: type = _httpx.AsyncBaseTransport
except ImportError:  # pragma: no cover - without the extra, constructing them fails clearly
    _HTTPX_BASE = _HTTPX_ASYNC_BASE = object

__all__ = [
    "BATCH_LIMIT",
    "INVALID_ID_ANSWER",
    "AsyncShimTransport",
    "ShimAdapter",
    "ShimMiddleware",
    "ShimTransport",
    "install",
]

logger = logging.getLogger(__name__)

#: Commands the portal runs in one batch (``CRestUtil::BATCH_MAX_LENGTH``).
BATCH_LIMIT = 50
_JSON_TYPE = "application/json; charset=utf-8"
_DELETE, _BATCH = DELETE, BATCH
_AUTH_KEYS = ("auth", "access_token")
# A batch parameter that refers to an earlier command's answer (CRestUtil::ParseBatchQuery).
_REFERENCE = re.compile(r"\$(result|next|total|time|error)\[", re.IGNORECASE)
_READS_PER_DELETE = 3  # both families before, the other family after

_local = threading.local()
_S = TypeVar("_S", LeadShim, AsyncLeadShim)


@contextlib.contextmanager
def _handling() -> Iterator[None]:
    """Mark this thread as inside the adapter: the shim's own requests pass through."""
    depth = getattr(_local, "depth", 0)
    _local.depth = depth + 1
    try:
        yield
    finally:
        _local.depth = depth


def _inside() -> bool:
    return getattr(_local, "depth", 0) > 0


class _Unreadable(Exception):
    """The request's parameters cannot be read here (a stream, multipart, compressed)."""


def _body_params(request: requests.PreparedRequest) -> dict[str, Any]:
    """The body's parameters: JSON for ``application/json``, else ``parse_str`` (spec 1.4)."""
    return _params_of(request.body, request.headers)


def _params_of(body: object, headers: Mapping[str, str]) -> dict[str, Any]:
    """A request body's parameters, whichever HTTP library holds it (bytes or text)."""
    if body is None or body in (b"", ""):
        return {}
    if headers.get("Content-Encoding"):
        raise _Unreadable("a compressed body")
    if isinstance(body, str):
        text = body
    elif isinstance(body, bytes):
        text = body.decode("utf-8", errors="replace")
    else:
        raise _Unreadable("a streamed body")
    content_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        raise _Unreadable("a multipart body")
    if content_type == "application/json":
        try:
            decoded = json.loads(text)
        except (ValueError, RecursionError):
            # The portal reads invalid JSON as no parameters, and PHP's json_decode gives up
            # past 512 levels of nesting the same way.
            return {}
        if not isinstance(decoded, dict):
            return {}
        return {str(key): value for key, value in decoded.items()}
    return parse_str(text.strip())


def _has_token(request: requests.PreparedRequest, params: Mapping[str, Any]) -> bool:
    return _carries_token(request.headers, params)


def _carries_token(headers: Mapping[str, str], params: Mapping[str, Any]) -> bool:
    if any(isinstance(params.get(key), str) and params[key] for key in _AUTH_KEYS):
        return True
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


# -- the shim, built once when needed ---------------------------------------------------------


class _ShimSource(Generic[_S]):
    """A drop-in's shim: the one given, or ``<facade>.from_env()`` built on first use."""

    def __init__(self, shim: _S | None, build: Callable[[], _S]) -> None:
        self._shim: _S | None = shim
        self._build: Callable[[], _S] = build
        self._lock = threading.Lock()
        self._failure: str | None = None

    def get(self) -> _S | None:
        """The shim, or None when the environment does not configure one (logged)."""
        shim = self._shim
        if shim is not None:
            return shim
        with self._lock:
            if self._shim is None:
                try:
                    self._shim = self._build()
                except ConfigError as exc:
                    if str(exc) != self._failure:
                        self._failure = str(exc)
                        logger.error(
                            "b24shim adapter: %s.from_env() failed (%s); crm.lead.delete "
                            "calls pass through to the portal unchanged until it is fixed",
                            getattr(self._build, "__self__", LeadShim).__name__,
                            exc,
                        )
                    return None
            return self._shim

    def __repr__(self) -> str:
        return repr(self._shim) if self._shim is not None else "LeadShim.from_env() (not built)"


# -- the adapter ------------------------------------------------------------------------------


class _Call:
    """An intercepted REST call: its method, its body's parameters and all its parameters."""

    def __init__(self, method: str, query: dict[str, Any], body: dict[str, Any]) -> None:
        self.method = method
        self.body = body
        self.params = {**query, **body}  # array_replace: body keys win


class ShimAdapter(requests.adapters.HTTPAdapter):
    """A ``requests`` adapter that answers ``crm.lead.delete`` through the shim.

    Mount it on a session (``session.mount("https://", ShimAdapter())``) or use
    :func:`install`. Deletes of the shim's portal go through the stage of the current
    environment and are answered with exactly what ``crm.lead.delete`` would have answered;
    every other request passes through untouched.

    Args:
        shim: the :class:`~b24shim.LeadShim` to route with; ``LeadShim.from_env()``, built on
            the first call that may be intercepted, when None. (Build it yourself at start-up
            to find a configuration error at once: a failing ``from_env`` is logged and the
            calls pass through unchanged.)
        **kwargs: passed to ``requests.adapters.HTTPAdapter`` (``max_retries``, pool sizes).
    """

    def __init__(self, shim: LeadShim | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._source: _ShimSource[LeadShim] = _ShimSource(shim, LeadShim.from_env)

    @classmethod
    def _sharing(cls, source: _ShimSource[LeadShim]) -> ShimAdapter:
        adapter = cls()
        adapter._source = source
        return adapter

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
        if _inside():  # the shim's own request, made while answering one
            return super().send(request, **kwargs)
        method = method_of(request.url or "")
        if method is None:
            return super().send(request, **kwargs)
        shim = self._source.get()
        call = self._intercept(shim, request, method) if shim is not None else None
        if shim is None or call is None:
            return super().send(request, **kwargs)
        with _handling():
            if call.method == _DELETE:
                return self._delete(shim, request, call, kwargs)
            return self._batch(shim, request, call, kwargs)

    # -- which requests --------------------------------------------------------------------

    def _intercept(
        self, shim: LeadShim, request: requests.PreparedRequest, method: str
    ) -> _Call | None:
        """The call to answer, or None when it is not the shim's to answer."""
        credentials = shim.transport.credentials
        if not same_identity(request.url or "", credentials):
            return None  # another portal, webhook or form: not the shim's identity
        parts = urlsplit(request.url or "")
        query = parse_str(parts.query)
        try:
            body = _body_params(request)
        except _Unreadable as exc:
            logger.info(
                "%s %s passes through unchanged: %s cannot be read here",
                credentials.portal,
                method,
                exc,
                extra={"b24shim_method": method},
            )
            return None
        call = _Call(method, query, body)
        if isinstance(credentials, OAuth) and not _has_token(request, call.params):
            return None  # no token: the portal itself answers NO_AUTH_FOUND
        return call

    # -- one delete ------------------------------------------------------------------------

    def _delete(
        self,
        shim: LeadShim,
        request: requests.PreparedRequest,
        call: _Call,
        kwargs: dict[str, Any],
    ) -> requests.Response:
        portal = shim.transport.portal
        value = pick_id(call.params)
        try:
            lead_id = parse_lead_id(value)
        except InvalidLeadId as exc:
            if coerced_passes(shim.engine, value):
                return super().send(request, **kwargs)  # byte for byte, as legacy sends it
            logger.info(
                "%s crm.lead.delete with id %s answered as an invalid id, not sent (%s)",
                portal,
                describe(value),
                exc.reason,
                extra={"b24shim_method": _DELETE},
            )
            return self._answer(request, *INVALID_ID_ANSWER)
        engine = shim.engine
        plan = engine.plan(lead_id)
        if plan.route is LEGACY and not plan.verified and not plan.fell_back:
            # The legacy route: the portal's own answer, byte for byte.
            response = super().send(request, **kwargs)
            engine.passed_through(plan, response.status_code, response.content)
            logger.debug(
                "%s crm.lead.delete of lead %s passed through (stage %s)",
                portal,
                lead_id,
                plan.stage.value,
                extra={"b24shim_lead_id": lead_id},
            )
            return response
        result = shim.delete_lead(lead_id)
        logger.debug(
            "%s crm.lead.delete of lead %s answered through %s (stage %s): %s",
            portal,
            lead_id,
            result.method,
            result.stage.value,
            result.outcome.value,
            extra={"b24shim_lead_id": lead_id},
        )
        _raise_transport_error(result, request)
        return self._answer(request, *result.to_legacy())

    def _answer(
        self, request: requests.PreparedRequest, status: int, body: Mapping[str, Any]
    ) -> requests.Response:
        content = encode_json(body)
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = ""
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(content),
            headers={"Content-Type": _JSON_TYPE, "Content-Length": str(len(content))},
            status=status,
            reason=reason,
            preload_content=False,
            decode_content=False,
            request_method=request.method,
            request_url=request.url,
        )
        return self.build_response(request, raw)

    # -- batch -----------------------------------------------------------------------------

    def _batch(
        self,
        shim: LeadShim,
        request: requests.PreparedRequest,
        call: _Call,
        kwargs: dict[str, Any],
    ) -> requests.Response:
        rewrite = _BatchRewrite.plan(shim, call)
        if rewrite is None:
            return super().send(request, **kwargs)
        sent = request if not rewrite.changed else rewrite.request(request, call)
        response = super().send(sent, **kwargs)
        rest = rewrite.answer(shim, response)
        while rest:
            # The commands a halted batch did not run (a portal without crm.item.*).
            kept = {k: v for k, v in call.body.items() if k.upper() not in ("CMD", "HALT")}
            more = _Call(_BATCH, {}, {**kept, "cmd": dict(rest), "halt": rewrite.halt})
            follow = _BatchRewrite.plan(shim, more) or _BatchRewrite(
                dict(rest), [], True, rewrite.halt, rest
            )
            try:
                tail = super().send(follow.request(request, call=more), **kwargs)
            except requests.RequestException as exc:
                logger.info(
                    "%s batch: sending the commands after the halted one failed (%s); they are "
                    "left unanswered, as not run",
                    shim.transport.portal,
                    shim.transport.credentials.redact(f"{type(exc).__name__}: {exc}"),
                )
                break
            rest = follow.answer(shim, tail)
            rewrite.merge(response, tail)
        response.request = request
        response.url = request.url or response.url
        return response


def _raise_transport_error(result: DeleteResult, request: requests.PreparedRequest) -> None:
    """Surface a failed connection as the exception the legacy code would have seen."""
    error = result.error
    if error is None or error.code is not ErrorCode.TRANSPORT_ERROR:
        return
    # The transport's description starts with the requests exception's name, already redacted.
    name = error.description.partition(":")[0]
    cls: type[requests.RequestException] = {
        "ConnectTimeout": requests.ConnectTimeout,
        "ReadTimeout": requests.ReadTimeout,
        "Timeout": requests.Timeout,
    }.get(name, requests.ConnectionError)
    raise cls(
        f"b24shim: {result.method} of lead {result.lead_id} failed before an answer: "
        f"{error.description}",
        request=request,
    )


class _Delete:
    """One ``crm.lead.delete`` command of a batch, planned."""

    def __init__(self, key: str, plan: Plan, reads: tuple[str, str, str] | None) -> None:
        self.key = key
        self.plan = plan
        self.reads = reads  # keys of (legacy before, item before, other after)


class _BatchRewrite:
    """A batch with its ``crm.lead.delete`` commands routed, and how to map the answer back."""

    def __init__(
        self,
        commands: dict[str, object],
        deletes: list[_Delete],
        changed: bool,
        halt: object,
        original: list[tuple[str, object]],
    ) -> None:
        self.commands = commands  # what to send, read commands included
        self.deletes = deletes
        self.changed = changed  # False: the legacy request can be sent as it is
        self.halt = halt  # the legacy request's own value, passed on as it was
        self.original = original  # the legacy request's commands, as they came
        self.ours = {key for d in deletes if d.reads for key in d.reads}
        self.order = [key for key in commands if key not in self.ours]

    @classmethod
    def plan(cls, shim: LeadShim | AsyncLeadShim, call: _Call) -> _BatchRewrite | None:
        """The rewrite of ``call``, or None when it holds no delete to route."""
        upper: dict[str, Any] = {}
        for key, value in call.params.items():
            upper[key.upper()] = value  # array_change_key_case: the later key wins
        cmd = upper.get("CMD")
        if isinstance(cmd, Mapping):
            original = [(str(key), value) for key, value in cmd.items()]
        elif isinstance(cmd, list):
            original = [(str(index), value) for index, value in enumerate(cmd)]
        else:
            return None
        halt = upper.get("HALT")
        halting = to_bool(halt)
        texts = [v for _, v in original if isinstance(v, str)]
        budget = BATCH_LIMIT - len(original)
        taken = {key for key, _ in original}
        commands: dict[str, object] = {}
        deletes: list[_Delete] = []
        changed = False
        portal = shim.transport.portal
        for position, (key, value) in enumerate(original):
            if position >= BATCH_LIMIT or not isinstance(value, str):
                commands[key] = value
                continue
            target, _, query = value.partition("#")[0].partition("?")
            if target.strip().lower() != _DELETE:
                commands[key] = value
                continue
            params = parse_str(query)
            raw_id = pick_id(params)
            if raw_id is None:
                commands[key] = value  # the portal answers the missing id itself
                continue
            if isinstance(raw_id, str) and _REFERENCE.search(raw_id):
                logger.info(
                    "%s batch command %r: the id refers to another command's answer, so it "
                    "stays on crm.lead.delete, unchanged",
                    portal,
                    key,
                )
                commands[key] = value
                continue
            try:
                lead_id = parse_lead_id(raw_id)
            except InvalidLeadId as exc:
                if coerced_passes(shim.engine, raw_id):
                    commands[key] = value  # unchanged, as this legacy stage sends it
                    continue
                logger.info(
                    "%s batch command %r: id %s is not a lead id (%s); sent as id=0, which the "
                    "portal answers as an invalid id, so no lead is deleted",
                    portal,
                    key,
                    describe(raw_id),
                    exc.reason,
                )
                commands[key] = f"{_DELETE}?id=0"
                changed = True
                continue
            if _referenced(key, texts):
                logger.info(
                    "%s batch command %r: other commands refer to its answer, so it stays on "
                    "crm.lead.delete, unchanged",
                    portal,
                    key,
                )
                commands[key] = value
                continue
            plan = shim.engine.plan(lead_id, position)
            routed = plan.route is not LEGACY
            reads: tuple[str, str, str] | None = None
            if plan.verified:
                if halting:
                    logger.info(
                        "%s batch command %r: halt is set, so the delete of lead %s runs "
                        "without verification reads (a failed read would stop the batch)",
                        portal,
                        key,
                        lead_id,
                    )
                elif budget < _READS_PER_DELETE:
                    logger.info(
                        "%s batch command %r: no room for verification reads within %d "
                        "commands; the delete of lead %s runs unverified",
                        portal,
                        key,
                        BATCH_LIMIT,
                        lead_id,
                    )
                else:
                    budget -= _READS_PER_DELETE
                    reads = _read_keys(position, taken)
                    taken.update(reads)
            if reads is not None:
                commands[reads[0]] = _command(*LEGACY.get(lead_id))
                commands[reads[1]] = _command(*ITEM.get(lead_id))
            commands[key] = _command(*plan.route.delete(lead_id)) if routed else value
            if reads is not None:
                other = ITEM if plan.route is LEGACY else LEGACY
                commands[reads[2]] = _command(*other.get(lead_id))
            changed = changed or routed or reads is not None
            deletes.append(_Delete(key, plan, reads))
        if not deletes and not changed:
            return None
        return cls(commands, deletes, changed, halt, original)

    def request(self, original: requests.PreparedRequest, call: _Call) -> requests.PreparedRequest:
        """The batch to send: the same URL and headers, ``cmd`` and ``halt`` as a JSON body."""
        sent = original.copy()
        parts = urlsplit(original.url or "")
        kept = [
            part
            for part in parts.query.split("&")
            if part and _base_name(part).upper() not in ("CMD", "HALT")
        ]
        sent.url = urlunsplit(parts._replace(query="&".join(kept)))
        body: dict[str, Any] = {
            key: value for key, value in call.body.items() if key.upper() not in ("CMD", "HALT")
        }
        body["cmd"] = self.commands
        if self.halt is not None:
            body["halt"] = self.halt
        content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        sent.method = "POST"
        sent.body = content
        for header in ("Content-Length", "Transfer-Encoding", "Content-Type"):
            sent.headers.pop(header, None)
        sent.headers["Content-Type"] = "application/json"
        sent.headers["Content-Length"] = str(len(content))
        return sent

    def answer(self, shim: LeadShim, response: requests.Response) -> list[tuple[str, object]]:
        """:meth:`read` the answer of ``response`` and put the legacy answer into it."""
        content, rest = self.read(shim, response.status_code, response.content)
        if content is not None:
            _replace_content(response, content)
        return rest

    def read(
        self,
        shim: Any,
        status: int,
        content: bytes,
        done: Mapping[str, DeleteResult] | None = None,
    ) -> tuple[bytes | None, list[tuple[str, object]]]:
        """Conclude each routed delete and turn the answer back into the legacy one.

        Returns:
            The legacy commands still to run: with ``halt`` set, a portal without
            ``crm.item.*`` stops the batch at the first routed delete; the shim deletes that
            lead through ``crm.lead.delete`` instead, and the commands after it, which the
            legacy batch would have run, come back here to be sent. Usually empty.
        """
        envelope = parse_response(status, content)
        body = _json_object(content)
        payload = body.get("result") if body is not None else None
        if not isinstance(payload, dict):
            logger.info(
                "%s batch answered without per-command results (HTTP %s); passed on unchanged",
                shim.transport.portal,
                status,
            )
            return None, []
        # From here the answer is shaped like a batch answer. If its status or envelope says
        # the batch failed, every routed command gets that failure (parse_batch), in the
        # legacy shape; the shim's own reads are taken out either way.
        maps = {name: _as_map(payload.get(name)) for name in _BATCH_MAPS}
        keys = [key for d in self.deletes for key in (d.key, *(d.reads or ()))]
        # The maps as dicts (PHP sends 0..n-1 keys as a list), edited in place below.
        replies = parse_batch(attrs.evolve(envelope, result={**payload, **maps}), keys)
        edited = self.changed
        halted: str | None = None
        for delete in self.deletes:
            if delete.key not in maps["result"] and delete.key not in maps["result_error"]:
                continue  # not run (halt): the legacy answer would not have it either
            result = (done or {}).get(delete.key) or self._result_of(shim, delete, replies)
            if delete.plan.route is LEGACY:
                continue  # the portal's own crm.lead.delete answer stays as it is
            _put_legacy(maps, delete.key, result)
            edited = True
            missing = replies[delete.key].code is ErrorCode.METHOD_NOT_FOUND
            if halted is None and missing and to_bool(self.halt) and result.ok:
                # Legacy would have gone on after this delete (it would have halted after
                # one that failed).
                halted = delete.key
        rest: list[tuple[str, object]] = []
        if halted is not None:
            after = [key for key, _ in self.original].index(halted) + 1
            ran = maps["result"].keys() | maps["result_error"].keys()
            rest = [(key, value) for key, value in self.original[after:] if key not in ran]
        written = self._write(body, payload, maps) if edited and body is not None else None
        return written, rest

    def merge(self, response: requests.Response, tail: requests.Response) -> None:
        """Add the answers of the commands sent after a halt (see :meth:`answer`)."""
        first, second = _json_object(response.content), _json_object(tail.content)
        payload = first.get("result") if first is not None else None
        extra = second.get("result") if second is not None else None
        if first is None or not isinstance(payload, dict) or not isinstance(extra, dict):
            return  # the rest failed as a whole: its commands stay unanswered, as unrun
        maps = {name: _as_map(payload.get(name)) for name in _BATCH_MAPS}
        for name in _BATCH_MAPS:
            maps[name].update(_as_map(extra.get(name)))
        _replace_content(response, self._write(first, payload, maps))

    def fallbacks(self, status: int, content: bytes) -> list[tuple[str, int]]:
        """The routed deletes the portal answered ``ERROR_METHOD_NOT_FOUND`` (key, lead id).

        A portal without ``crm.item.*``: each of them is deleted through the facade (which
        learns it and uses ``crm.lead.delete``) before :meth:`read` is given the answer.
        """
        keys = [d.key for d in self.deletes if d.plan.route is ITEM]
        if not keys:
            return []
        replies = parse_batch(parse_response(status, content), keys)
        return [
            (d.key, d.plan.lead_id)
            for d in self.deletes
            if d.key in replies and replies[d.key].code is ErrorCode.METHOD_NOT_FOUND
        ]

    def _write(
        self,
        body: dict[str, Any],
        payload: dict[str, Any],
        maps: dict[str, dict[str, Any]],
    ) -> bytes:
        """The answer with the edited maps, in the legacy request's command order."""
        for name, mapping in maps.items():
            ordered = {k: mapping[k] for k in self.order if k in mapping}
            ordered.update(
                (k, v) for k, v in mapping.items() if k not in ordered and k not in self.ours
            )
            payload[name] = _map_shape(ordered)
        return encode_json(body)

    @staticmethod
    def _result_of(shim: LeadShim, delete: _Delete, replies: dict[str, Reply]) -> DeleteResult:
        plan = delete.plan
        reply = replies[delete.key]
        if plan.route is ITEM and reply.code is ErrorCode.METHOD_NOT_FOUND:
            # The portal lacks crm.item.*: the shim learns it and deletes through legacy.
            return shim.delete_lead(plan.lead_id)
        reads = None
        if delete.reads is not None:
            legacy_before, item_before, other_after = delete.reads
            reads = VerificationReads(
                legacy_before=Read.from_get(replies[legacy_before]),
                item_before=Read.from_get(replies[item_before]),
                other_after=Read.from_get(replies[other_after]),
            )
        result: DeleteResult = shim.engine.conclude(plan, reply, reads=reads)
        return result


def _replace_content(response: requests.Response, content: bytes) -> None:
    response._content = content
    response.headers.pop("Content-Encoding", None)
    response.headers.pop("Transfer-Encoding", None)
    response.headers["Content-Length"] = str(len(content))


_BATCH_MAPS = ("result", "result_error", "result_total", "result_next", "result_time")


def _base_name(pair: str) -> str:
    name = unquote_plus(pair.partition("=")[0]).lstrip(" ")
    return name.partition("[")[0]


def _command(method: str, params: Mapping[str, Any]) -> str:
    return f"{method}?{encode_query(params)}"


def _referenced(key: str, texts: list[str]) -> bool:
    """Does any command refer to ``key``'s answer (``$result[key]``, ``$error[key]``)?"""
    pattern = re.compile(r"\$(result|error)\[" + re.escape(key) + r"\]", re.IGNORECASE)
    return any(pattern.search(text) for text in texts)


def _read_keys(position: int, taken: set[str]) -> tuple[str, str, str]:
    suffix = 0
    while True:
        stem = f"b24shim_{position}" + (f"_{suffix}" if suffix else "")
        keys = (f"{stem}_lead_before", f"{stem}_item_before", f"{stem}_other_after")
        if not taken.intersection(keys):
            return keys
        suffix += 1


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        decoded = json.loads(content)
    except (ValueError, RecursionError):
        return None
    return decoded if isinstance(decoded, dict) else None


def _map_shape(mapping: dict[str, Any]) -> list[Any] | dict[str, Any]:
    """One batch map as PHP ``json_encode`` shapes it: ``[]`` empty, a list for 0..n-1."""
    return json_shape({array_key(key): value for key, value in mapping.items()})


def _as_map(value: object) -> dict[str, Any]:
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list):  # PHP sends a 0..n-1 array as a list
        return {str(i): v for i, v in enumerate(value)}
    return {}


def _put_legacy(maps: dict[str, dict[str, Any]], key: str, result: DeleteResult) -> None:
    """Put what ``crm.lead.delete`` would have answered for ``key`` into the batch maps."""
    status, body = result.to_legacy()
    if status == 200 and body.get("result") is True:
        maps["result"][key] = True
        maps["result_error"].pop(key, None)
        if key not in maps["result_time"] and isinstance(body.get("time"), Mapping):
            maps["result_time"][key] = body["time"]
        return
    maps["result_error"][key] = {
        "error": body.get("error", ""),
        "error_description": body.get("error_description", ""),
    }
    for name in ("result", "result_time", "result_total", "result_next"):
        maps[name].pop(key, None)


# -- the aiohttp drop-in ----------------------------------------------------------------------

# Set while the middleware answers a call: the facade's own requests (through a session that
# carries the middleware too) pass through.
_answering: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "b24shim_answering", default=False
)


class ShimMiddleware:
    """An aiohttp client middleware that answers ``crm.lead.delete`` through the shim.

    ``aiohttp.ClientSession(middlewares=[ShimMiddleware()])`` (aiohttp >= 3.12; fast_bitrix24
    takes such a session as ``Bitrix(webhook, client=session)``), or :func:`install` for
    sessions a library makes itself. Deletes of the shim's portal, single or inside ``batch``,
    go through the stage of the current environment and are answered with exactly what
    ``crm.lead.delete`` would have answered; every other request passes through untouched.

    The routed calls are sent through the same session, with the caller's own credentials
    (the webhook in the URL, the ``auth`` token in the parameters), so the client's own
    limits and token handling stay in charge; the engine of the facade decides what to send,
    reads the answers and retries as for ``AsyncLeadShim``.

    Args:
        shim: the :class:`~b24shim.AsyncLeadShim` to route with; ``AsyncLeadShim.from_env()``,
            built on the first call that may be intercepted, when None.
    """

    def __init__(self, shim: AsyncLeadShim | None = None) -> None:
        self._source: _ShimSource[AsyncLeadShim] = _ShimSource(shim, AsyncLeadShim.from_env)

    @classmethod
    def _sharing(cls, source: _ShimSource[AsyncLeadShim]) -> ShimMiddleware:
        middleware = cls()
        middleware._source = source
        return middleware

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
        if method is None or shim is None or not same_identity(url, shim.transport.credentials):
            return await handler(request)
        try:
            body = _params_of(_aiohttp_body(request), request.headers)
        except _Unreadable as exc:
            logger.info(
                "%s %s passes through unchanged: %s cannot be read here",
                shim.transport.portal,
                method,
                exc,
            )
            return await handler(request)
        call = _Call(method, parse_str(request.url.raw_query_string), body)
        if isinstance(shim.transport.credentials, OAuth) and not _carries_token(
            request.headers, call.params
        ):
            return await handler(request)
        token = _answering.set(True)
        try:
            return await self._run(shim, request, handler, call)
        finally:
            _answering.reset(token)

    async def _run(
        self,
        shim: AsyncLeadShim,
        request: aiohttp.ClientRequest,
        handler: _Handler,
        call: _Call,
    ) -> aiohttp.ClientResponse:
        """Drive the call's flow with aiohttp: the caller's request is sent, re-aimed."""
        flow = _flow_for(shim, call)
        response: aiohttp.ClientResponse | None = None
        value: Any = None
        try:
            while True:
                action = flow.send(value)
                if isinstance(action, _Sleep):
                    await shim.transport.sleep(action.seconds)
                    value = None
                elif isinstance(action, _DeleteLead):
                    value = await shim.delete_lead(action.lead_id)
                else:
                    if isinstance(action, _Send):
                        await _aim(request, call, action)
                    if response is not None:
                        response.release()
                    response = await handler(request)
                    value = (response.status, await response.read())
        except StopIteration as stop:
            reply: _Reply = stop.value
        assert response is not None  # every flow sends at least once
        if reply.content is not None:
            _answer_with(response, reply.status or response.status, reply.content)
        return response


_Handler = Callable[["aiohttp.ClientRequest"], Awaitable["aiohttp.ClientResponse"]]


# -- the flows of the drop-ins: what to send and answer, whatever the HTTP library ------------


@attrs.frozen
class _Forward:
    """Send the caller's request as it came; the flow gets ``(status, content)``."""


@attrs.frozen
class _Send:
    """Send the caller's request aimed at ``method`` with ``params``, its auth kept."""

    method: str
    params: Mapping[str, Any]
    keep_query: bool = False


@attrs.frozen
class _Sleep:
    """Wait ``seconds`` (a retry's back-off), as the driver waits."""

    seconds: float


@attrs.frozen
class _DeleteLead:
    """Delete ``lead_id`` through the facade (a portal found lacking ``crm.item.*``)."""

    lead_id: int


@attrs.frozen
class _Reply:
    """The flow's end: answer with the last response, its body replaced by ``content``."""

    status: int | None = None
    content: bytes | None = None  # None: the last response as it came


_Action = _Forward | _Send | _Sleep | _DeleteLead
_Flow = Generator[_Action, Any, _Reply]


def _flow_for(shim: LeadShim | AsyncLeadShim, call: _Call, *, alone: bool = False) -> _Flow:
    """The flow of ``call``; ``alone``: the driver can answer without sending anything."""
    if call.method == _DELETE:
        return _delete_flow(shim, call, alone=alone)
    return _batch_flow(shim, call)


def _delete_flow(shim: LeadShim | AsyncLeadShim, call: _Call, *, alone: bool = False) -> _Flow:
    """One ``crm.lead.delete``, driven by the facade's engine."""
    engine = shim.engine
    value = pick_id(call.params)
    try:
        lead_id = parse_lead_id(value)
    except InvalidLeadId as exc:
        if coerced_passes(engine, value):
            yield _Forward()  # byte for byte, as legacy sends it
            return _Reply()
        if alone:
            logger.info(
                "%s crm.lead.delete with id %s answered as an invalid id, not sent (%s)",
                shim.transport.portal,
                describe(value),
                exc.reason,
            )
            return _Reply(INVALID_ID_ANSWER[0], encode_json(INVALID_ID_ANSWER[1]))
        logger.info(
            "%s crm.lead.delete with id %s sent as id=0, which the portal answers as an "
            "invalid id, so no lead is deleted (%s)",
            shim.transport.portal,
            describe(value),
            exc.reason,
        )
        yield _Send(_DELETE, {"id": 0})
        return _Reply()
    plan = engine.plan(lead_id)
    if plan.route is LEGACY and not plan.verified and not plan.fell_back:
        status, content = yield _Forward()  # the portal's own answer, byte for byte
        engine.passed_through(plan, status, content)
        return _Reply()
    deletes = engine.delete(plan)
    while (step := deletes.next_step()) is not None:
        if isinstance(step, Wait):
            yield _Sleep(step.seconds)
            continue
        sent = step.request
        if sent.batch:
            status, content = yield _Send(_BATCH, batch_params(sent.commands))
        else:
            ((name, params),) = sent.commands.values()
            status, content = yield _Send(name, params)
        deletes.receive_response(status, content)
    (result,) = deletes.results.values()
    logger.debug(
        "%s crm.lead.delete of lead %s answered through %s (stage %s): %s",
        shim.transport.portal,
        lead_id,
        result.method,
        result.stage.value,
        result.outcome.value,
    )
    status, answer = result.to_legacy()
    return _Reply(status, encode_json(answer))


def _batch_flow(shim: LeadShim | AsyncLeadShim, call: _Call) -> _Flow:
    """A ``batch`` with its ``crm.lead.delete`` commands routed (see :class:`_BatchRewrite`)."""
    rewrite = _BatchRewrite.plan(shim, call)
    if rewrite is None:
        yield _Forward()
        return _Reply()
    if rewrite.changed:
        kept = {k: v for k, v in call.body.items() if k.upper() not in ("CMD", "HALT")}
        body: dict[str, Any] = {**kept, "cmd": rewrite.commands}
        if rewrite.halt is not None:
            body["halt"] = rewrite.halt
        status, content = yield _Send(_BATCH, body, keep_query=True)
    else:
        status, content = yield _Forward()
    done: dict[str, DeleteResult] = {}
    for key, lead_id in rewrite.fallbacks(status, content):
        done[key] = yield _DeleteLead(lead_id)
    written, rest = rewrite.read(shim, status, content, done)
    if rest:
        logger.info(
            "%s batch: %d command(s) after a halted routed delete are left unanswered, as not "
            "run (this drop-in does not send them again)",
            shim.transport.portal,
            len(rest),
        )
    return _Reply(None, written)


def _aimed_url(url: str, query: str, call: _Call, action: _Send) -> str:
    """The caller's URL pointed at ``action.method``, with its auth (or its own query) kept."""
    parts = urlsplit(url)
    name = parts.path.rsplit("/", 1)[-1]
    suffix = ".json" if name.lower().endswith(".json") else ""
    path = parts.path[: len(parts.path) - len(name)] + action.method + suffix
    if action.keep_query:
        kept = [p for p in query.split("&") if p and _base_name(p).upper() not in ("CMD", "HALT")]
        query = "&".join(kept)
    else:
        query = "&".join(
            f"{key}={quote(str(call.params[key]), safe='')}"
            for key in _AUTH_KEYS
            if isinstance(call.params.get(key), str)
        )
    return urlunsplit(parts._replace(path=path, query=query))


_DROPPED_HEADERS = ("Content-Length", "Transfer-Encoding", "Content-Encoding", "Content-Type")


def _aiohttp_body(request: aiohttp.ClientRequest) -> bytes | None:
    """The body an aiohttp request will send, as bytes (None: nothing readable)."""
    body: object = request.body
    if body is None or isinstance(body, (bytes, bytearray)):
        return bytes(body or b"")  # aiohttp keeps an empty body as b""
    value = getattr(body, "_value", None)  # BytesPayload and JsonPayload keep their bytes here
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    if getattr(body, "size", None) == 0:
        return None
    raise _Unreadable("a streamed body")


async def _aim(request: aiohttp.ClientRequest, call: _Call, action: _Send) -> None:
    """Point ``request`` at ``action``'s method with its parameters, as JSON."""
    from yarl import URL  # noqa: PLC0415 - aiohttp's own

    url = _aimed_url(str(request.url), request.url.raw_query_string, call, action)
    request.url = URL(url, encoded=True)
    request.method = "POST"
    for header in _DROPPED_HEADERS:
        request.headers.pop(header, None)
    await request.update_body(encode_json(dict(action.params)))
    request.headers["Content-Type"] = "application/json"


def _answer_with(response: aiohttp.ClientResponse, status: int, content: bytes) -> None:
    """Make ``response`` (already read) carry the legacy answer.

    aiohttp has no public way to build a response or to replace a read body; it keeps the
    read body in ``_body`` (what ``read()``, ``text()`` and ``json()`` return), so the answer
    is put there, with the status and ``Content-Length`` to match.
    """
    from multidict import CIMultiDict, CIMultiDictProxy  # noqa: PLC0415 - aiohttp's own

    response.status = status
    try:
        response.reason = http.HTTPStatus(status).phrase
    except ValueError:
        response.reason = ""
    response._body = content
    headers = CIMultiDict(response.headers)
    for header in ("Content-Encoding", "Transfer-Encoding"):
        headers.popall(header, None)
    headers["Content-Length"] = str(len(content))
    headers["Content-Type"] = _JSON_TYPE
    response._headers = CIMultiDictProxy(headers)


# -- the httpx drop-ins -----------------------------------------------------------------------


def _httpx_call(
    shim: LeadShim | AsyncLeadShim, request: httpx.Request, method: str
) -> _Call | None:
    """The call an httpx request makes, or None when it is not the shim's to answer."""
    url = str(request.url)
    credentials = shim.transport.credentials
    if not same_identity(url, credentials):
        return None
    try:
        body = _params_of(request.content, request.headers)
    except Exception as exc:
        logger.info(
            "%s %s passes through unchanged: %s cannot be read here",
            credentials.portal,
            method,
            exc if isinstance(exc, _Unreadable) else "a streamed body",
        )
        return None
    call = _Call(method, parse_str(request.url.query.decode("ascii", "replace")), body)
    if isinstance(credentials, OAuth) and not _carries_token(request.headers, call.params):
        return None
    return call


def _httpx_aimed(request: httpx.Request, call: _Call, action: _Send) -> httpx.Request:
    import httpx  # noqa: PLC0415 - the extra, present when this runs

    url = _aimed_url(str(request.url), request.url.query.decode("ascii", "replace"), call, action)
    headers = [
        (k, v) for k, v in request.headers.multi_items() if k.title() not in _DROPPED_HEADERS
    ]
    headers.append(("Content-Type", "application/json"))
    return httpx.Request(
        "POST",
        url,
        headers=headers,
        content=encode_json(dict(action.params)),
        extensions=request.extensions,
    )


def _httpx_answer(
    request: httpx.Request, last: httpx.Response | None, reply: _Reply
) -> httpx.Response:
    import httpx  # noqa: PLC0415

    if reply.content is None and last is not None:
        return last
    return httpx.Response(
        reply.status or (last.status_code if last is not None else 200),
        headers={"Content-Type": _JSON_TYPE},
        content=reply.content,
        request=request,
    )


class ShimTransport(_HTTPX_BASE):  # type: ignore[misc]
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

        self._source: _ShimSource[LeadShim] = _ShimSource(shim, LeadShim.from_env)
        self._transport = transport if transport is not None else httpx.HTTPTransport()

    @classmethod
    def _sharing(cls, source: _ShimSource[LeadShim], transport: Any) -> ShimTransport:
        made = cls(transport=transport)
        made._source = source
        return made

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Answer a ``crm.lead.delete`` of the shim's portal; pass anything else through."""
        method = method_of(str(request.url))
        shim = self._source.get() if method is not None else None
        call = _httpx_call(shim, request, method) if shim is not None and method else None
        if shim is None or call is None:
            return self._transport.handle_request(request)
        flow = _flow_for(shim, call, alone=True)
        response = None
        value: Any = None
        try:
            while True:
                action = flow.send(value)
                if isinstance(action, _Sleep):
                    shim.transport.clock.sleep(action.seconds)
                    value = None
                elif isinstance(action, _DeleteLead):
                    value = shim.delete_lead(action.lead_id)
                else:
                    sent = (
                        request
                        if isinstance(action, _Forward)
                        else _httpx_aimed(request, call, action)
                    )
                    if response is not None:
                        response.close()
                    response = self._transport.handle_request(sent)
                    value = (response.status_code, response.read())
        except StopIteration as stop:
            reply: _Reply = stop.value
        return _httpx_answer(request, response, reply)

    def close(self) -> None:
        """Close the transport that sends."""
        self._transport.close()


class AsyncShimTransport(_HTTPX_ASYNC_BASE):  # type: ignore[misc]
    """The asyncio twin of :class:`ShimTransport`: ``httpx.AsyncClient(transport=...)``.

    Args:
        shim: the :class:`~b24shim.AsyncLeadShim` to route with; ``AsyncLeadShim.from_env()``,
            built on first use, when None.
        transport: the transport that sends (``httpx.AsyncHTTPTransport()`` when None).
    """

    def __init__(self, shim: AsyncLeadShim | None = None, transport: Any = None) -> None:
        import httpx  # noqa: PLC0415

        self._source: _ShimSource[AsyncLeadShim] = _ShimSource(shim, AsyncLeadShim.from_env)
        self._transport = transport if transport is not None else httpx.AsyncHTTPTransport()

    @classmethod
    def _sharing(cls, source: _ShimSource[AsyncLeadShim], transport: Any) -> AsyncShimTransport:
        made = cls(transport=transport)
        made._source = source
        return made

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer a ``crm.lead.delete`` of the shim's portal; pass anything else through."""
        method = method_of(str(request.url))
        shim = self._source.get() if method is not None else None
        call = _httpx_call(shim, request, method) if shim is not None and method else None
        if shim is None or call is None:
            return await self._transport.handle_async_request(request)
        flow = _flow_for(shim, call, alone=True)
        response = None
        value: Any = None
        try:
            while True:
                action = flow.send(value)
                if isinstance(action, _Sleep):
                    await shim.transport.sleep(action.seconds)
                    value = None
                elif isinstance(action, _DeleteLead):
                    value = await shim.delete_lead(action.lead_id)
                else:
                    sent = (
                        request
                        if isinstance(action, _Forward)
                        else _httpx_aimed(request, call, action)
                    )
                    if response is not None:
                        await response.aclose()
                    response = await self._transport.handle_async_request(sent)
                    value = (response.status_code, await response.aread())
        except StopIteration as stop:
            reply: _Reply = stop.value
        return _httpx_answer(request, response, reply)

    async def aclose(self) -> None:
        """Close the transport that sends."""
        await self._transport.aclose()


# -- process-wide installation -----------------------------------------------------------------

_install_lock = threading.Lock()
# Per installation: its token, and the shims of the requests and the aiohttp drop-ins.
_installed: list[tuple[object, _ShimSource[LeadShim], _ShimSource[AsyncLeadShim]]] = []
# Per patched class: the class, its own __init__, and ours.
_patches: list[tuple[type, Callable[..., None], Callable[..., None]]] = []


def _current_source() -> _ShimSource[LeadShim] | None:
    with _install_lock:
        return _installed[-1][1] if _installed else None


def _current_async_source() -> _ShimSource[AsyncLeadShim] | None:
    with _install_lock:
        return _installed[-1][2] if _installed else None


def _patch_requests() -> None:
    original = requests.Session.__init__

    @functools.wraps(original)
    def __init__(self: requests.Session, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        current = _current_source()
        if current is not None:
            adapter = ShimAdapter._sharing(current)
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
                ShimMiddleware._sharing(current),
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
        (httpx.Client, ShimTransport._sharing, _current_source),
        (httpx.AsyncClient, AsyncShimTransport._sharing, _current_async_source),
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


def _unpatch() -> None:
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
    :class:`AsyncShimTransport` around the transport it built. Sessions
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
        restored exactly. Sessions created meanwhile keep their drop-in.
    """
    token = object()
    sources = (
        _ShimSource(shim if isinstance(shim, LeadShim) else None, LeadShim.from_env),
        _ShimSource(shim if isinstance(shim, AsyncLeadShim) else None, AsyncLeadShim.from_env),
    )
    with _install_lock:
        if not _installed:
            _patch_requests()
            _patch_aiohttp()
            _patch_httpx()
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


def _reset_for_tests() -> None:
    """Undo every installation (tests only)."""
    with _install_lock:
        _installed.clear()
        _unpatch()
