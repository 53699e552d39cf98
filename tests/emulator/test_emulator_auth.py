"""Webhook and OAuth authentication, token expiry and refresh (spec 7, 4)."""

from __future__ import annotations

import pytest

from b24shim.emulator import Emulator, ManualClock

INVALID_CREDENTIALS = {
    "error": "INVALID_CREDENTIALS",
    "error_description": "Invalid request credentials",
}


def _rest(portal: Emulator) -> str:
    return portal.base_url + "/rest/"


def test_webhook_urls(portal: Emulator):
    assert portal.admin_webhook.startswith(portal.base_url + "/rest/1/")
    assert portal.restricted_webhook.startswith(portal.base_url + "/rest/2/")
    assert portal.admin_webhook.endswith("/")
    assert portal.admin_webhook != portal.restricted_webhook.replace("/2/", "/1/")


def test_wrong_webhook_code(portal: Emulator, call):
    response = call(portal.base_url + "/rest/1/wrongcode/", "crm.lead.list")
    assert (response.status_code, response.json()) == (401, INVALID_CREDENTIALS)
    assert portal.requests[-1].user_id is None


def test_code_of_another_user(portal: Emulator, call):
    other = portal.restricted_webhook.rstrip("/").rsplit("/", 1)[1]
    response = call(f"{portal.base_url}/rest/1/{other}/", "crm.lead.list")
    assert (response.status_code, response.json()) == (401, INVALID_CREDENTIALS)


def test_unknown_user(portal: Emulator, call):
    code = portal.admin_webhook.rstrip("/").rsplit("/", 1)[1]
    response = call(f"{portal.base_url}/rest/77/{code}/", "crm.lead.list")
    assert response.status_code == 401


def test_https_required(make_portal, call):
    portal = make_portal(require_https=True)
    response = call(portal.admin_webhook, "crm.lead.list")
    assert (response.status_code, response.json()) == (
        401,
        {"error": "INVALID_REQUEST", "error_description": "Https required."},
    )


def test_oauth_without_token(portal: Emulator, call):
    response = call(_rest(portal), "crm.lead.list")
    assert (response.status_code, response.json()) == (
        401,
        {"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"},
    )


def test_oauth_unknown_token(portal: Emulator, call):
    response = call(_rest(portal), "crm.lead.list", json={"auth": "nope"})
    assert (response.status_code, response.json()) == (
        401,
        {"error": "invalid_token", "error_description": "The access token provided is invalid"},
    )


@pytest.mark.parametrize("where", ["auth-json", "auth-query", "access_token-form", "bearer"])
def test_oauth_token_places(portal: Emulator, call, where):
    access, _ = portal.issue_tokens(user_id=2)
    kwargs = {
        "auth-json": {"json": {"auth": access}},
        "auth-query": {"params": {"auth": access}},
        "access_token-form": {"data": {"access_token": access}},
        "bearer": {"headers": {"Authorization": f"Bearer {access}"}},
    }[where]
    response = call(_rest(portal), "crm.lead.list", **kwargs)
    assert response.status_code == 200
    record = portal.requests[-1]
    assert record.user_id == 2
    assert "auth" not in record.params
    assert "access_token" not in record.params


def test_token_expires_on_the_clock(portal: Emulator, call, clock: ManualClock):
    access, _ = portal.issue_tokens(expires_in=60)
    clock.advance(59.9)
    assert call(_rest(portal), "crm.lead.list", json={"auth": access}).status_code == 200
    clock.advance(0.1)
    response = call(_rest(portal), "crm.lead.list", json={"auth": access})
    assert (response.status_code, response.json()) == (
        401,
        {"error": "expired_token", "error_description": "The access token provided has expired"},
    )


def _refresh(session, portal: Emulator, refresh: str, **overrides):
    params = {
        "grant_type": "refresh_token",
        "client_id": portal.client_id,
        "client_secret": portal.client_secret,
        "refresh_token": refresh,
        **overrides,
    }
    return session.get(portal.token_url, params=params, timeout=10)


def test_refresh_rotates_the_pair(portal: Emulator, call, session, clock: ManualClock):
    access, refresh = portal.issue_tokens(user_id=1, expires_in=100)
    clock.advance(200)
    response = _refresh(session, portal, refresh)
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {
        "access_token",
        "refresh_token",
        "expires_in",
        "scope",
        "domain",
        "member_id",
        "client_endpoint",
        "server_endpoint",
        "status",
    }
    assert body["expires_in"] == 100
    assert body["client_endpoint"] == portal.base_url + "/rest/"
    assert body["refresh_token"] != refresh
    assert body["access_token"] != access
    assert portal.refresh_count == 1
    assert call(_rest(portal), "crm.lead.list", json={"auth": body["access_token"]}).ok

    reused = _refresh(session, portal, refresh)
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
    again = session.post(
        portal.token_url,
        data={
            "grant_type": "refresh_token",
            "client_id": portal.client_id,
            "client_secret": portal.client_secret,
            "refresh_token": body["refresh_token"],
        },
        timeout=10,
    )
    assert again.status_code == 200
    assert portal.refresh_count == 2
    assert portal.requests[-1].method == "crm.lead.list"  # the token endpoint is not logged


@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "app.other"}, 401, "invalid_client"),
        ({"refresh_token": "unknown"}, 400, "invalid_grant"),
        ({"grant_type": "password"}, 400, "invalid_request"),
        ({"refresh_token": ""}, 400, "invalid_request"),
    ],
)
def test_refresh_errors(portal: Emulator, session, overrides, status, error):
    _, refresh = portal.issue_tokens()
    response = _refresh(session, portal, refresh, **overrides)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert set(response.json()) == {"error", "error_description"}
    assert portal.refresh_count == 0


def test_issue_tokens_validates(portal: Emulator):
    with pytest.raises(ValueError, match="user_id"):
        portal.issue_tokens(user_id=9)
    with pytest.raises(ValueError, match="expires_in"):
        portal.issue_tokens(expires_in=0)


def test_secrets_stay_out_of_logs(portal: Emulator, call, session, caplog):
    caplog.set_level("DEBUG", logger="b24shim.emulator")
    access, refresh = portal.issue_tokens()
    call(portal.admin_webhook, "crm.lead.list")
    call(_rest(portal), "crm.lead.list", json={"auth": access})
    _refresh(session, portal, refresh)
    _refresh(session, portal, "bad")
    text = caplog.text + repr(portal.requests)
    assert "crm.lead.list" in caplog.text
    code = portal.admin_webhook.rstrip("/").rsplit("/", 1)[1]
    for secret in (code, access, refresh, portal.client_secret):
        assert secret not in text
