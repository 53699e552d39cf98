"""OAuth: one refresh for all threads on expired_token, rotation kept, failures explained."""

from __future__ import annotations

import json
import re
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from b24shim import AuthError, ErrorCode, LeadShim, OAuth, Outcome

PORTAL = "https://portal.example.com"
TOKEN_URL = "https://oauth.example.com/oauth/token/"
DELETE_URL = PORTAL + "/rest/crm.item.delete.json"
EXPIRED = {"error": "expired_token", "error_description": "The access token provided has expired"}


def oauth(**kwargs: Any) -> OAuth:
    defaults: dict[str, Any] = {
        "refresh_token": "refresh-1",
        "client_id": "app.1",
        "client_secret": "secret-1",
        "token_url": TOKEN_URL,
    }
    defaults.update(kwargs)
    return OAuth(PORTAL, "access-1", **defaults)


class Portal:
    """A portal whose current token is `access-N`; the token server rotates the pair."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.valid = "access-1"
        self.refresh = "refresh-1"
        self.refreshes = 0
        self.lock = threading.Lock()
        self.expired = True
        mock.add_callback(responses.POST, DELETE_URL, callback=self.delete)
        mock.add_callback(responses.GET, TOKEN_URL, callback=self.token)

    def delete(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body or b"{}")
        with self.lock:
            if self.expired or body.get("auth") != self.valid:
                return 401, {}, json.dumps(EXPIRED)
        return 200, {}, json.dumps({"result": []})

    def token(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.url or "").query).items()}
        with self.lock:
            if (
                query.get("grant_type"),
                query.get("client_id"),
                query.get("client_secret"),
                query.get("refresh_token"),
            ) != ("refresh_token", "app.1", "secret-1", self.refresh):
                return (
                    400,
                    {},
                    json.dumps(
                        {"error": "invalid_grant", "error_description": "Invalid refresh token"}
                    ),
                )
            self.refreshes += 1
            self.valid = f"access-{self.refreshes + 1}"
            self.refresh = f"refresh-{self.refreshes + 1}"
            self.expired = False
            return (
                200,
                {},
                json.dumps(
                    {"access_token": self.valid, "refresh_token": self.refresh, "expires_in": 3600}
                ),
            )


def test_expired_token_refreshes_rotates_and_retries_once() -> None:
    saved: list[tuple[str, str]] = []
    with responses.RequestsMock() as mock:
        portal = Portal(mock)
        credentials = oauth(on_refresh=lambda a, r: saved.append((a, r)))
        result = LeadShim(credentials, stage="item").delete_lead(5)
    assert result.outcome is Outcome.DELETED
    assert portal.refreshes == 1
    assert saved == [("access-2", "refresh-2")]
    assert (credentials.access_token, credentials.refresh_token) == ("access-2", "refresh-2")


def test_sixteen_threads_hitting_expiry_refresh_once() -> None:
    with responses.RequestsMock() as mock:
        portal = Portal(mock)
        shim = LeadShim(oauth(), stage="item")
        results: list[Outcome] = []
        barrier = threading.Barrier(16)

        def worker(lead: int) -> None:
            barrier.wait()
            results.append(shim.delete_lead(lead).outcome)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(1, 17)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == [Outcome.DELETED] * 16
    assert portal.refreshes == 1
    assert shim.transport.refreshes == 1


def test_a_failed_refresh_is_an_auth_error_naming_the_cause() -> None:
    with responses.RequestsMock() as mock:
        Portal(mock)
        result = LeadShim(oauth(refresh_token="stale-refresh"), stage="item").delete_lead(5)
    assert result.outcome is Outcome.FAILED
    assert result.error is not None
    assert result.error.code is ErrorCode.INVALID_CREDENTIALS
    assert result.error.raw_code == "invalid_grant"
    expected = re.escape(
        "refreshing the expired access token failed: invalid_grant: "
        "Invalid refresh token (HTTP 400); a new authorization is needed"
    )
    with pytest.raises(AuthError, match=expected):
        result.raise_for_error()
    assert "stale-refresh" not in str(result.to_dict())


def test_without_refresh_credentials_the_expiry_is_reported() -> None:
    with responses.RequestsMock() as mock:
        mock.post(DELETE_URL, status=401, json=EXPIRED)
        result = LeadShim(OAuth(PORTAL, "access-1"), stage="item").delete_lead(5)
    assert result.error is not None
    assert result.error.code is ErrorCode.EXPIRED_TOKEN
    assert "cannot be refreshed" in result.error.description
    with pytest.raises(AuthError):
        result.raise_for_error()


def test_a_failing_on_refresh_callback_does_not_break_the_delete(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(_a: str, _r: str) -> None:
        raise OSError("disk full")

    with responses.RequestsMock() as mock:
        Portal(mock)
        result = LeadShim(oauth(on_refresh=broken), stage="item").delete_lead(5)
    assert result.ok
    assert "on_refresh callback failed" in caplog.text
    assert "access-2" not in caplog.text
