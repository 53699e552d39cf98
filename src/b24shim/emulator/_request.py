"""Reading a REST request: the URL route and the parameters (spec 1.4, 7)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from b24shim._php import parse_str

__all__ = ["AUTH_KEYS", "HttpRequest", "RestRoute", "read_params", "split_rest_path"]

AUTH_KEYS = ("auth", "access_token")


@attrs.frozen
class HttpRequest:
    """An HTTP request as the portal sees it.

    Attributes:
        method: "GET", "POST", ...
        path: The decoded URL path.
        query: The raw query string.
        headers: Header values by lower-cased name.
        body: The raw body.
        https: Whether it came over TLS (`Emulator(tls=True)`).
    """

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes
    https: bool = False


@attrs.frozen
class RestRoute:
    """Where `/rest/...` points: the method, and the webhook user and code if any."""

    method: str
    webhook: tuple[str, str] | None = attrs.field(default=None, repr=False)


def split_rest_path(path: str) -> RestRoute:
    """Split `/rest/<user>/<code>/<method>` (webhook) or `/rest/<method>` (OAuth)."""
    segments = [segment for segment in path.split("/")[2:] if segment]
    if len(segments) >= 2 and segments[0].isdigit():
        return RestRoute("/".join(segments[2:]), (segments[0], segments[1]))
    return RestRoute("/".join(segments))


def _body_params(request: HttpRequest) -> dict[str, Any]:
    if not request.body:
        return {}
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    text = request.body.decode("utf-8", errors="replace")
    if content_type == "application/json":
        try:
            decoded = json.loads(text)
        except ValueError:
            return {}  # invalid JSON silently becomes an empty request (spec 1.4)
        if not isinstance(decoded, dict):
            return {}
        return {str(key): value for key, value in decoded.items()}
    return parse_str(text.strip())


def read_params(request: HttpRequest) -> dict[str, Any]:
    """Query string united with the body (JSON or form); body keys override query keys."""
    params = parse_str(request.query)
    params.update(_body_params(request))
    return params


def bearer_token(request: HttpRequest) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None
