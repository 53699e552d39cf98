"""What every drop-in shares, whatever HTTP library it sits in: which calls it answers.

The requests adapter, the aiohttp middleware and the httpx transports each read a request in
their own library's terms; these functions decide on plain values (a URL, headers, a body, the
parameters): is this a ``crm.lead.delete`` (or ``batch``) of the shim's own portal and
identity, what are its parameters, which id does it carry, what the portal answers for an id
that is not one, and where a routed call is sent instead.
"""

from __future__ import annotations

import http.client
import json
import json.encoder
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar
from urllib.parse import quote, unquote, unquote_plus, urlsplit

from b24shim._envelope import decode_text
from b24shim._php import parse_str, to_int
from b24shim.async_shim import AsyncLeadShim
from b24shim.credentials import Credentials, OAuth
from b24shim.differences import id_coercion_difference
from b24shim.engine import Engine
from b24shim.errors import ConfigError
from b24shim.ids import MAX_LEAD_ID
from b24shim.shim import LeadShim

__all__ = [
    "BATCH",
    "DELETE",
    "DROPPED_HEADERS",
    "INVALID_ID_ANSWER",
    "JSON_TYPE",
    "Call",
    "ShimSource",
    "Unreadable",
    "aimed_url",
    "base_name",
    "coerced_passes",
    "encode_json",
    "method_of",
    "pick_id",
    "read_call",
    "reason_of",
    "same_identity",
]

# One logger for every drop-in, whichever module holds it: the name users configure.
logger = logging.getLogger("b24shim.adapters")

DELETE = "crm.lead.delete"
BATCH = "batch"
#: What ``crm.lead.delete`` answers for a missing or invalid id (spec 2.4).
INVALID_ID_ANSWER: tuple[int, dict[str, str]] = (
    400,
    {"error": "", "error_description": "ID is not defined or invalid."},
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: The Content-Type of the answers the drop-ins write, as the portal sends it.
JSON_TYPE = "application/json; charset=utf-8"
#: Headers of the caller's request that describe its old body, dropped when it is re-aimed
#: (lower-case: compare ``name.lower()``).
DROPPED_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "content-encoding", "content-type"}
)
_AUTH_KEYS = ("auth", "access_token")
_S = TypeVar("_S", LeadShim, AsyncLeadShim)


# One encoder, made once: json.dumps with options builds a new one on every call. Without a
# circularity check: what the drop-ins encode is parameters and answers read from JSON or
# built by the engine, which cannot hold a cycle.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
# JSONEncoder.encode makes the C encoder again on every call, which costs more than encoding
# a delete's parameters; it is made here once, with the same settings. c_make_encoder is json's
# own accelerator (undocumented, so looked up: None or absent where it is not compiled, and
# encode() is used then).
_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODE: Callable[[object, int], tuple[str, ...]] | None = (
    None
    if _make_encoder is None
    else _make_encoder(
        None,  # no markers: no circularity check, as above
        _ENCODER.default,
        json.encoder.encode_basestring,  # ensure_ascii=False
        None,  # indent
        _ENCODER.key_separator,
        _ENCODER.item_separator,
        False,  # sort_keys
        False,  # skipkeys
        True,  # allow_nan, as json.dumps
    )
)


def encode_json(body: object) -> bytes:
    """JSON the way the portal (and the emulator) sends it: compact, UTF-8."""
    if _C_ENCODE is not None and isinstance(body, dict):
        return "".join(_C_ENCODE(body, 0)).encode("utf-8")
    return _ENCODER.encode(body).encode("utf-8")


def pick_id(params: Mapping[str, Any]) -> object:
    """``isset($p['ID']) ? $p['ID'] : $p['id']`` (spec 2.2); None when neither is set."""
    for name in ("ID", "id"):
        if params.get(name) is not None:
            return params[name]
    return None


def method_of(url: str) -> str | None:
    """``crm.lead.delete`` or ``batch`` for such a ``/rest/...`` URL, cheaply; else None.

    Asked of every request a drop-in sees, so it cuts the string instead of parsing it: the
    path is what comes before ``?`` and ``#``, and a host never holds ``/``.
    """
    path = url.partition("#")[0].partition("?")[0]
    if "/rest/" not in path:
        return None
    name = path.rsplit("/", 1)[-1]
    if "%" in name:
        name = unquote(name)
    name = name.strip().lower()
    name = name.removesuffix(".json")
    return name if name in (DELETE, BATCH) else None


def _origin(scheme: str, host: str | None, port: int | None) -> tuple[str, str, int | None]:
    scheme = scheme.lower()
    return scheme, (host or "").lower(), port if port is not None else _DEFAULT_PORTS.get(scheme)


def same_identity(url: str, credentials: Credentials) -> bool:
    """Whether ``url`` calls a method of the shim's portal in the shim's own form.

    ``<portal>/rest/<user>/<code>/<method>`` for a webhook (same user and code),
    ``<portal>/rest/<method>`` for OAuth.
    """
    base = credentials.base_url
    if url.startswith(base):  # the shim's own address, as written: no need to parse it
        name = url[len(base) :].partition("?")[0].partition("#")[0]
        if "/" not in unquote(name):
            return True
    parts = urlsplit(url)
    portal = urlsplit(credentials.portal)
    try:
        port = parts.port
    except ValueError:
        return False
    if _origin(parts.scheme, parts.hostname, port) != _origin(
        portal.scheme, portal.hostname, portal.port
    ):
        return False
    path = unquote(parts.path)
    prefix = urlsplit(credentials.base_url).path
    return path.startswith(prefix) and "/" not in path[len(prefix) :]


def coerced_passes(engine: Engine, value: object) -> bool:
    """Record an id that PHP's ``(int)`` turns into a lead; true when it goes on unchanged.

    DESIGN: legacy stages behave as legacy, observed: ``"12abc"`` goes to ``crm.lead.delete``
    as it came (which deletes lead 12) with an ``id_coercion`` difference recorded; at the item
    stages it is refused as an invalid id, as ``crm.item.delete`` refuses it, and recorded the
    same way. An id PHP casts to nothing (``"abc"``, ``0``) is the portal's invalid id either
    way.
    """
    lead_id = to_int(value)
    if not 0 < lead_id <= MAX_LEAD_ID:
        return False
    stage = engine.policy.stage_for(lead_id)
    sent = not stage.uses_item
    engine.reporter.report([id_coercion_difference(lead_id, stage, value, sent=sent)])
    return sent


# -- reading the caller's request -------------------------------------------------------------


class Unreadable(Exception):
    """The request's parameters cannot be read here (a stream, multipart, compressed)."""


class Call:
    """An intercepted REST call: its method, its body's parameters and all its parameters."""

    __slots__ = ("body", "method", "params")

    def __init__(self, method: str, query: dict[str, Any], body: dict[str, Any]) -> None:
        self.method = method
        self.body = body
        self.params = {**query, **body}  # array_replace: body keys win


def params_of(body: object, headers: Mapping[str, str]) -> dict[str, Any]:
    """A request body's parameters: JSON for ``application/json``, else ``parse_str``.

    Raises:
        Unreadable: a compressed, multipart or streamed body (reading it would consume it).
    """
    if body is None or body in (b"", ""):
        return {}
    if headers.get("Content-Encoding"):
        raise Unreadable("a compressed body")
    if not isinstance(body, (str, bytes, bytearray)):
        raise Unreadable("a streamed body")
    content_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        raise Unreadable("a multipart body")
    if content_type == "application/json":
        try:
            # PHP's json_decode reads UTF-8 only: other bytes are no parameters (decoded as
            # text first: json.loads of bytes would sniff UTF-16 or skip a BOM, as PHP does not).
            decoded = decode_text(body if isinstance(body, str) else bytes(body).decode())
        except (ValueError, RecursionError):
            # The portal reads invalid JSON (and bytes that are not text) as no parameters,
            # and PHP's json_decode gives up past 512 levels of nesting the same way.
            return {}
        # A JSON object's keys are always strings.
        return decoded if isinstance(decoded, dict) else {}
    text = body if isinstance(body, str) else bytes(body).decode("utf-8", errors="replace")
    return parse_str(text.strip())


def _carries_token(headers: Mapping[str, str], params: Mapping[str, Any]) -> bool:
    if any(isinstance(params.get(key), str) and params[key] for key in _AUTH_KEYS):
        return True
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


def read_call(
    credentials: Credentials,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: Callable[[], object],
) -> Call | None:
    """The call a request makes, or None when it is not the shim's to answer.

    Args:
        credentials: the shim's; the URL must be its portal in its own form.
        method: what :func:`method_of` found in ``url`` (its query string is read too).
        headers: the request's headers.
        body: gives the request's body (bytes or text); raises :class:`Unreadable` (or
            anything else, read as a streamed body) when it cannot be read without consuming it.
    """
    if not same_identity(url, credentials):
        return None  # another portal, webhook or form: not the shim's identity
    try:
        params = params_of(body(), headers)
    except Exception as exc:
        logger.info(
            "%s %s passes through unchanged: %s cannot be read here",
            credentials.portal,
            method,
            exc if isinstance(exc, Unreadable) else "a streamed body",
            extra={"b24shim_method": method},
        )
        return None
    call = Call(method, parse_str(_query_of(url)), params)
    if isinstance(credentials, OAuth) and not _carries_token(headers, call.params):
        return None  # no token: the portal itself answers NO_AUTH_FOUND
    return call


def base_name(pair: str) -> str:
    """The parameter name of one ``name=value`` pair of a query string, without ``[...]``."""
    name = unquote_plus(pair.partition("=")[0]).lstrip(" ")
    return name.partition("[")[0]


def _query_of(url: str) -> str:
    """The raw query string of ``url``: what is between ``?`` and ``#``."""
    return url.partition("#")[0].partition("?")[2]


def reason_of(status: int) -> str:
    """The reason phrase for ``status`` (``""`` for a code without one), as answers carry."""
    return http.client.responses.get(status, "")


def aimed_url(url: str, call: Call, method: str, *, keep_query: bool) -> str:
    """The caller's URL pointed at ``method.json``, with its auth (or its own query) kept.

    Always ``.json``: the shim reads the answer itself, so it asks for JSON, as the facade does.

    ``keep_query``: keep the caller's query string but its ``cmd`` and ``halt`` (a batch sent
    again with other commands); else keep only the ``auth`` / ``access_token`` token.
    """
    # Cut, not parsed and rebuilt: the path ends where the query or fragment starts, its
    # last segment is the method, and a fragment is never sent.
    path = url.partition("#")[0].partition("?")[0]
    path = f"{path[: path.rfind('/') + 1]}{method}.json"
    if keep_query:
        kept = [
            p
            for p in _query_of(url).split("&")
            if p and base_name(p).upper() not in ("CMD", "HALT")
        ]
        query = "&".join(kept)
    else:
        query = "&".join(
            f"{key}={quote(str(call.params[key]), safe='')}"
            for key in _AUTH_KEYS
            if isinstance(call.params.get(key), str)
        )
    return f"{path}?{query}" if query else path


# -- the shim, built once when needed ---------------------------------------------------------


class ShimSource(Generic[_S]):
    """A drop-in's shim: the one given, or ``<facade>.from_env()`` built on first use.

    One source may be shared by many drop-ins (every session :func:`~b24shim.adapters.install`
    covers), so that they build and use one shim.
    """

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
        if self._shim is not None:
            return repr(self._shim)
        return f"{getattr(self._build, '__self__', LeadShim).__name__}.from_env() (not built)"
