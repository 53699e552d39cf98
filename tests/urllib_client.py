"""requests' ``get`` / ``post`` written with ``urllib.request``: legacy calls sent by urllib.

The adapter's behaviour suite sends its legacy calls with requests' words; this sends the same
calls the way urllib code does (``opener.open(Request(...))``, a 4xx/5xx caught as
``HTTPError``), so that one suite checks the urllib drop-in too.
"""

from __future__ import annotations

import json as jsonlib
import urllib.error
import urllib.request
from email.message import Message
from typing import Any
from urllib.parse import urlencode


class UrllibResponse:
    """What urllib gave: the status, the body and the headers (``HTTPError`` read as an answer)."""

    def __init__(self, status_code: int, content: bytes, headers: Message) -> None:
        self.status_code = status_code
        self.content = content
        self.headers = headers

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class UrllibSession:
    """``post(url, json=...)``, ``post(url, data=...)``, ``get(url, params=...)`` over an opener."""

    def __init__(self, *handlers: urllib.request.BaseHandler) -> None:
        self.opener = urllib.request.build_opener(*handlers)

    def __enter__(self) -> UrllibSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass

    def post(self, url: str, json: Any = None, data: Any = None) -> UrllibResponse:
        headers = {}
        if json is not None:
            body: bytes | None = jsonlib.dumps(json).encode("utf-8")
            headers["Content-Type"] = "application/json"
        else:
            body = urlencode(data, doseq=True).encode("ascii") if data is not None else b""
        return self.send(urllib.request.Request(url, data=body, headers=headers, method="POST"))

    def get(self, url: str, params: Any = None) -> UrllibResponse:
        if params:
            url = f"{url}?{urlencode(params, doseq=True)}"
        return self.send(urllib.request.Request(url))

    def send(self, request: urllib.request.Request) -> UrllibResponse:
        try:
            response = self.opener.open(request, timeout=30)
        except urllib.error.HTTPError as error:
            response = error  # legacy urllib code reads the portal's error body from it
        with response:
            return UrllibResponse(response.getcode(), response.read(), response.headers)
