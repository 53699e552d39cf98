"""Credentials: an incoming webhook, or an OAuth application's tokens (spec section 7).

Neither ever shows its secret: reprs mask the webhook code and the tokens, and every string the
transport builds from them goes through a :class:`~b24shim._redact.Redactor`.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

from b24shim._redact import MASK, Redactor
from b24shim.errors import ConfigError

__all__ = ["DEFAULT_TOKEN_URL", "Credentials", "OAuth", "Webhook", "is_loopback"]

DEFAULT_TOKEN_URL = "https://oauth.bitrix.info/oauth/token/"

_WEBHOOK_PATH = re.compile(r"^/rest/(?P<user>[0-9]+)/(?P<code>[^/]+)/?$")
# URL-safe characters (RFC 3986 "unreserved"); the portal issues letters and digits.
_WEBHOOK_CODE = re.compile(r"[A-Za-z0-9._~-]+")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _origin(url: str, setting: str, expected: str) -> tuple[str, str]:
    """Split ``url`` into (scheme://host[:port], path), enforcing HTTPS off loopback."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(setting, f"{setting} must look like {expected}")
    if parts.query or parts.fragment:
        raise ConfigError(setting, f"{setting} must look like {expected}, without ?query or #")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(
            setting,
            f"{setting} must use https:// (the portal refuses plain http); "
            "http:// is allowed only for loopback hosts such as the local emulator",
        )
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = host if port is None else f"{host}:{port}"
    return f"{parts.scheme}://{netloc}", parts.path


class Webhook:
    """An incoming webhook: ``https://<portal>/rest/<user_id>/<code>/``.

    Raises:
        ConfigError: the URL is not of that form, or uses http:// off loopback. The message
            never repeats the URL (it holds the code).
    """

    def __init__(self, url: str, *, setting: str = "webhook url") -> None:
        if not isinstance(url, str):
            raise ConfigError(setting, f"{setting} must be a string")
        expected = "https://<portal>/rest/<user_id>/<code>/"
        origin, path = _origin(url, setting, expected)
        match = _WEBHOOK_PATH.match(path)
        if not match:
            raise ConfigError(setting, f"{setting} must look like {expected}")
        # urlsplit silently drops tabs and newlines, so look at the URL as given too.
        if not _WEBHOOK_CODE.fullmatch(match["code"]) or any(c.isspace() for c in url.strip()):
            # Never shown: the code is the secret. A space, a quote or %20 in it is a
            # copy-and-paste accident that the portal would only answer with a 401.
            raise ConfigError(
                setting,
                f"the code in {setting} must be letters and digits (as the portal issues it); "
                "it has other characters, such as a space: copy the webhook URL again",
            )
        self.portal = origin
        self.user_id = int(match["user"])
        self._code = match["code"]
        self.redact = Redactor([self._code])

    @property
    def base_url(self) -> str:
        """The URL methods are appended to. Holds the code: never log it."""
        return f"{self.portal}/rest/{self.user_id}/{self._code}/"

    def __repr__(self) -> str:
        return f"Webhook('{self.portal}/rest/{self.user_id}/{MASK}/')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Webhook) and other.base_url == self.base_url

    def __hash__(self) -> int:
        return hash(self.base_url)


class OAuth:
    """An OAuth application's tokens for one portal.

    Args:
        portal_url: ``https://<portal>`` (a trailing ``/rest/`` is accepted).
        access_token: the current access token.
        refresh_token: the refresh token; needed to refresh an expired access token.
        client_id: the application's client id; needed to refresh.
        client_secret: the application's secret; needed to refresh.
        on_refresh: called as ``on_refresh(access_token, refresh_token)`` after every refresh,
            so the application can persist the new pair (the refresh token rotates).
        token_url: the OAuth server's token endpoint.
    """

    def __init__(
        self,
        portal_url: str,
        access_token: str,
        refresh_token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        on_refresh: Callable[[str, str], object] | None = None,
        *,
        token_url: str = DEFAULT_TOKEN_URL,
    ) -> None:
        if not isinstance(portal_url, str):
            raise ConfigError("portal url", "portal url must be a string")
        origin, path = _origin(portal_url, "portal url", "https://<portal>")
        if path.strip("/") not in ("", "rest"):
            raise ConfigError("portal url", "portal url must look like https://<portal>")
        if not isinstance(access_token, str) or not access_token:
            raise ConfigError("access token", "access token must be a non-empty string")
        if refresh_token:
            missing = [
                n for n, v in (("client_id", client_id), ("client_secret", client_secret)) if not v
            ]
            if missing:
                raise ConfigError(
                    "refresh_token",
                    "refresh_token is of no use without client_id and client_secret (the "
                    f"OAuth server asks for all three to refresh); missing: {', '.join(missing)}",
                )
        self.portal = origin
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.client_id = client_id
        self.client_secret = client_secret
        self.on_refresh = on_refresh
        self.token_url = _origin(token_url, "token url", "https://<oauth server>/oauth/token/")[0]
        self.token_url += urlsplit(token_url).path
        self.redact = Redactor([access_token, refresh_token or "", client_secret or ""])
        # Held while refreshing, so that many threads hitting expired_token refresh once.
        self.refresh_lock = threading.Lock()

    @property
    def base_url(self) -> str:
        """The URL methods are appended to (the token travels in the body)."""
        return f"{self.portal}/rest/"

    @property
    def can_refresh(self) -> bool:
        """True when a refresh token, client id and client secret are all known."""
        return bool(self.refresh_token and self.client_id and self.client_secret)

    def rotate(self, access_token: str, refresh_token: str) -> None:
        """Store a refreshed pair and tell the application."""
        self.redact.add(access_token, refresh_token)
        self.access_token = access_token
        self.refresh_token = refresh_token

    def __repr__(self) -> str:
        return f"OAuth('{self.portal}', access_token='{MASK}', client_id={self.client_id!r})"


Credentials = Webhook | OAuth
