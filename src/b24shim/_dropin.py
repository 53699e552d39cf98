"""What every drop-in shares, whatever HTTP library it sits in: which calls it answers.

The requests adapter, the aiohttp middleware and the httpx transports each read a request in
their own library's terms; these functions decide on plain values (a URL, the parameters): is
this a ``crm.lead.delete`` (or ``batch``) of the shim's own portal and identity, which id does
it carry, and what the portal answers for an id that is not one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from b24shim._php import to_int
from b24shim.credentials import Credentials
from b24shim.differences import id_coercion_difference
from b24shim.engine import Engine
from b24shim.ids import MAX_LEAD_ID

__all__ = [
    "BATCH",
    "DELETE",
    "INVALID_ID_ANSWER",
    "coerced_passes",
    "encode_json",
    "method_of",
    "pick_id",
    "same_identity",
]

DELETE = "crm.lead.delete"
BATCH = "batch"
#: What ``crm.lead.delete`` answers for a missing or invalid id (spec 2.4).
INVALID_ID_ANSWER: tuple[int, dict[str, str]] = (
    400,
    {"error": "", "error_description": "ID is not defined or invalid."},
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def encode_json(body: object) -> bytes:
    """JSON the way the portal (and the emulator) sends it: compact, UTF-8."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def pick_id(params: Mapping[str, Any]) -> object:
    """``isset($p['ID']) ? $p['ID'] : $p['id']`` (spec 2.2); None when neither is set."""
    for name in ("ID", "id"):
        if params.get(name) is not None:
            return params[name]
    return None


def method_of(url: str) -> str | None:
    """``crm.lead.delete`` or ``batch`` for such a ``/rest/...`` URL, cheaply; else None."""
    path = urlsplit(url).path
    if "/rest/" not in path:
        return None
    name = unquote(path.rsplit("/", 1)[-1]).strip().lower()
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
