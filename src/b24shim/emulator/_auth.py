"""Who is calling: users, incoming webhooks, the OAuth application and its tokens (spec 7, 4).

The portal has three users:

- 1, the administrator: may do everything.
- 2, a restricted employee: may read and add leads and items but lacks the "all leads" delete
  right, so every delete is refused.
- 3, an extranet user (not part of the intranet): `crm.item.*` refuses them with
  `allowed_only_intranet_user`, the legacy `crm.*` methods with "Access denied.".

Each has an incoming webhook with a random code. One OAuth application is registered; tokens are
issued for a user with `issue_tokens` and rotated through the token endpoint (a refresh returns a
new refresh token and the old one stops working).

Secrets (webhook codes, tokens, the client secret) never reach a log line or a repr.
"""

from __future__ import annotations

import enum
import secrets
import string
import threading
from collections.abc import Hashable, Mapping

import attrs

from ._errors import RestError

__all__ = ["AuthContext", "AuthRegistry", "Role", "TokenError"]

_CODE_ALPHABET = string.ascii_lowercase + string.digits
REFRESH_LIFETIME = 180 * 24 * 3600.0  # refresh tokens live 180 days (spec 7)


class Role(enum.Enum):
    """What a portal user may do."""

    ADMIN = "admin"
    RESTRICTED = "restricted"
    EXTRANET = "extranet"


USERS: dict[int, Role] = {1: Role.ADMIN, 2: Role.RESTRICTED, 3: Role.EXTRANET}


def _random_code(length: int = 16) -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(length))


@attrs.frozen
class AuthContext:
    """An authenticated caller.

    Attributes:
        user_id: The portal user.
        role: What the user may do.
        entity: The key the operating limit is counted under: the webhook (user and code) or the
            OAuth application. Internal; never logged.
    """

    user_id: int
    role: Role
    entity: Hashable = attrs.field(repr=False)


class TokenError(Exception):
    """A token-endpoint failure: HTTP status plus the OAuth `error` and description."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


@attrs.define
class _Grant:
    user_id: int
    expires_at: float
    lifetime: float


class AuthRegistry:
    """Webhooks, the OAuth application and its live tokens; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.webhook_codes: dict[int, str] = {user: _random_code() for user in USERS}
        self.client_id = "local.emulator" + _random_code(8)
        self.client_secret = _random_code(40)
        self.member_id = secrets.token_hex(16)
        self._access: dict[str, _Grant] = {}
        self._refresh: dict[str, _Grant] = {}
        self.refresh_count = 0

    def issue(self, user_id: int, expires_in: float, now: float) -> tuple[str, str]:
        """Issue an access/refresh token pair for `user_id`.

        Raises:
            ValueError: For an unknown user or a non-positive lifetime.
        """
        if user_id not in USERS:
            raise ValueError(f"user_id must be one of {sorted(USERS)}, got {user_id!r}")
        if expires_in <= 0:
            raise ValueError(f"expires_in must be a positive number of seconds, got {expires_in!r}")
        access, refresh = _random_code(32), _random_code(32)
        with self._lock:
            self._access[access] = _Grant(user_id, now + expires_in, expires_in)
            self._refresh[refresh] = _Grant(user_id, now + REFRESH_LIFETIME, expires_in)
        return access, refresh

    def webhook(self, user_id: int, code: str, *, https_ok: bool) -> AuthContext:
        """Authenticate an incoming-webhook call.

        Raises:
            RestError: 401 `INVALID_REQUEST` over plain HTTP when HTTPS is required;
                401 `INVALID_CREDENTIALS` for an unknown user or a wrong code.
        """
        if not https_ok:
            raise RestError("Https required.", "INVALID_REQUEST", 401)
        expected = self.webhook_codes.get(user_id)
        if expected is None or not secrets.compare_digest(expected, code):
            raise RestError("Invalid request credentials", "INVALID_CREDENTIALS", 401)
        return AuthContext(user_id, USERS[user_id], ("webhook", user_id, code))

    def token(self, token: str | None, now: float) -> AuthContext:
        """Authenticate an OAuth call by its access token.

        Raises:
            RestError: 401 `NO_AUTH_FOUND` (no token), `invalid_token` (unknown) or
                `expired_token` (past its lifetime on the portal clock).
        """
        if not token:
            raise RestError("Wrong authorization data", "NO_AUTH_FOUND", 401)
        with self._lock:
            grant = self._access.get(token)
        if grant is None:
            raise RestError("The access token provided is invalid", "invalid_token", 401)
        if now >= grant.expires_at:
            raise RestError("The access token provided has expired", "expired_token", 401)
        return AuthContext(grant.user_id, USERS[grant.user_id], ("oauth", self.client_id))

    def refresh(self, params: Mapping[str, object], now: float) -> tuple[str, str, _Grant]:
        """Run the token endpoint's `refresh_token` grant, rotating the refresh token.

        Returns:
            The new access token, the new refresh token and the grant.

        Raises:
            TokenError: `invalid_request`, `invalid_client` or `invalid_grant`.
        """
        grant_type = params.get("grant_type")
        refresh = params.get("refresh_token")
        client_id, client_secret = params.get("client_id"), params.get("client_secret")
        if grant_type != "refresh_token":
            raise TokenError(400, "invalid_request", "grant_type must be refresh_token")
        if not isinstance(refresh, str) or not refresh:
            raise TokenError(400, "invalid_request", "refresh_token is required")
        if not (
            isinstance(client_id, str)
            and isinstance(client_secret, str)
            and secrets.compare_digest(client_id, self.client_id)
            and secrets.compare_digest(client_secret, self.client_secret)
        ):
            raise TokenError(401, "invalid_client", "Invalid client credentials")
        with self._lock:
            grant = self._refresh.pop(refresh, None)
            if grant is None or now >= grant.expires_at:
                raise TokenError(400, "invalid_grant", "Invalid refresh token")
            access, new_refresh = _random_code(32), _random_code(32)
            self._access[access] = _Grant(grant.user_id, now + grant.lifetime, grant.lifetime)
            self._refresh[new_refresh] = _Grant(
                grant.user_id, now + REFRESH_LIFETIME, grant.lifetime
            )
            self.refresh_count += 1
        return access, new_refresh, grant

    def reset_counters(self) -> None:
        """Set the refresh counter back to 0."""
        with self._lock:
            self.refresh_count = 0
