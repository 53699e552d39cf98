"""The leaky bucket (spec 5.1) and the operating-time limit (spec 5.2)."""

from __future__ import annotations

from b24shim.emulator import ManualClock

TOO_MANY = {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
BLOCKED = {
    "error": "OPERATION_TIME_LIMIT",
    "error_description": "Method is blocked due to operation time limit.",
}


def test_burst_then_503_then_drain(make_portal, call, clock: ManualClock):
    portal = make_portal(rate=2, burst=5)
    lead_id = portal.add_lead()
    statuses = [call(portal.admin_webhook, "crm.lead.list").status_code for _ in range(5)]
    assert statuses == [200] * 5
    refused = call(portal.admin_webhook, "crm.lead.delete", json={"id": lead_id})
    assert (refused.status_code, refused.json()) == (503, TOO_MANY)
    assert portal.lead_exists(lead_id)  # the method did not run

    clock.advance(0.5)  # drains one request at 2/s
    assert call(portal.admin_webhook, "crm.lead.list").status_code == 200
    assert call(portal.admin_webhook, "crm.lead.list").status_code == 503
    clock.advance(2.5)
    assert [call(portal.admin_webhook, "crm.lead.list").status_code for _ in range(6)] == [
        *[200] * 5,
        503,
    ]


def test_bucket_counts_requests_even_when_auth_fails(make_portal, call):
    portal = make_portal(rate=1, burst=2)
    for _ in range(2):
        assert call(portal.base_url + "/rest/", "crm.lead.list").status_code == 401
    assert call(portal.admin_webhook, "crm.lead.list").status_code == 503


def test_batch_is_one_request(make_portal, call):
    portal = make_portal(rate=2, burst=2)
    body = {"cmd": ["crm.lead.add"] * 50}
    assert call(portal.admin_webhook, "batch", json=body).status_code == 200
    assert call(portal.admin_webhook, "batch", json=body).status_code == 200
    assert call(portal.admin_webhook, "batch", json=body).status_code == 503
    assert portal.lead_exists(100)
    assert not portal.lead_exists(101)


def test_rate_zero_disables_the_bucket(make_portal, call):
    portal = make_portal(rate=0, burst=1)
    assert all(call(portal.admin_webhook, "crm.lead.list").ok for _ in range(5))


def test_reset_counters_refills_the_bucket(make_portal, call):
    portal = make_portal(rate=1, burst=1)
    lead_id = portal.add_lead()
    call(portal.admin_webhook, "crm.lead.delete", json={"id": lead_id})
    assert call(portal.admin_webhook, "crm.lead.list").status_code == 503
    portal.reset_counters()
    assert portal.requests == []
    assert portal.events == []
    assert portal.recycle_bin != []  # data stays
    assert call(portal.admin_webhook, "crm.lead.list").status_code == 200


def test_operating_limit_blocks_one_method_then_resets(make_portal, call, clock: ManualClock):
    portal = make_portal(processing_time={"crm.lead.list": 100.0}, operating_limit=480)
    times = [call(portal.admin_webhook, "crm.lead.list").json()["time"] for _ in range(5)]
    assert [time["operating"] for time in times] == [100, 200, 300, 400, 500]
    assert {time["operating_reset_at"] for time in times} == {1_700_000_600}

    blocked = call(portal.admin_webhook, "crm.lead.list")
    assert (blocked.status_code, blocked.json()) == (429, BLOCKED)
    # other methods keep working, and report their own operating time
    other = call(portal.admin_webhook, "crm.lead.add", json={})
    assert other.status_code == 200
    assert other.json()["time"]["operating"] == 0
    assert other.json()["time"]["operating_reset_at"] == 1_700_000_600
    # the same method under another auth entity (the restricted webhook) is not blocked
    assert call(portal.restricted_webhook, "crm.lead.list").status_code == 200

    clock.advance(599)
    assert call(portal.admin_webhook, "crm.lead.list").status_code == 429
    clock.advance(1)
    assert call(portal.admin_webhook, "crm.lead.list").json()["time"]["operating"] == 100


def test_operating_buckets_expire_one_minute_at_a_time(make_portal, call, clock: ManualClock):
    portal = make_portal(processing_time=200.0, operating_limit=480)
    call(portal.admin_webhook, "crm.lead.list")
    clock.advance(60)
    call(portal.admin_webhook, "crm.lead.list")
    time = call(portal.admin_webhook, "crm.lead.list").json()["time"]
    assert (time["operating"], time["operating_reset_at"]) == (600, 1_700_000_600)
    assert call(portal.admin_webhook, "crm.lead.list").status_code == 429
    clock.advance(540)  # the first minute's 200 s expire
    time = call(portal.admin_webhook, "crm.lead.list").json()["time"]
    assert (time["operating"], time["operating_reset_at"]) == (600, 1_700_000_660)


def test_fast_calls_are_not_recorded(make_portal, call):
    portal = make_portal(processing_time=0.09, operating_limit=0.01)
    for _ in range(3):
        time = call(portal.admin_webhook, "crm.lead.list").json()["time"]
        assert time["operating"] == 0
        assert time["processing"] == 0.09


def test_batch_commands_count_under_their_own_names(make_portal, call, clock: ManualClock):
    portal = make_portal(processing_time={"crm.lead.add": 100.0}, operating_limit=250)
    result = call(
        portal.admin_webhook, "batch", json={"cmd": ["crm.lead.add"] * 5 + ["crm.lead.list"]}
    ).json()["result"]
    assert list(result["result"]) == ["0", "1", "2", "5"]
    assert [result["result"][key] for key in "012"] == [1, 2, 3]
    assert [lead["ID"] for lead in result["result"]["5"]] == ["1", "2", "3"]
    assert result["result_error"] == {"3": BLOCKED, "4": BLOCKED}
    assert result["result_time"]["2"]["operating"] == 300
    assert result["result_time"]["5"]["operating"] == 0
    single = call(portal.admin_webhook, "crm.lead.add", json={})
    assert (single.status_code, single.json()) == (429, BLOCKED)


def test_batch_time_block_sums_its_commands(make_portal, call):
    portal = make_portal(processing_time=1.5)
    body = call(portal.admin_webhook, "batch", json={"cmd": ["crm.lead.add"] * 4}).json()
    assert body["time"]["processing"] == 6.0
    assert body["time"]["operating"] == 0
    starts = [time["start"] for time in body["result"]["result_time"]]
    assert starts == [1_700_000_000.0, 1_700_000_001.5, 1_700_000_003.0, 1_700_000_004.5]
