"""No secret (webhook code, token, client secret) in a log line, a repr or an exception."""

from __future__ import annotations

import logging

import pytest
import requests
import responses

from b24shim import LeadShim, OAuth, Webhook
from conftest import WEBHOOK, WEBHOOK_CODE

ACCESS, REFRESH, SECRET = "acc3ssT0kenValue", "refr3shT0kenValue", "cl1entS3cretValue"
SECRETS = (WEBHOOK_CODE, ACCESS, REFRESH, SECRET)


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_reprs_mask_secrets() -> None:
    oauth = OAuth("https://portal.example.com", ACCESS, REFRESH, "app.1", SECRET)
    assert_clean(repr(Webhook(WEBHOOK)))
    assert_clean(repr(oauth))
    assert_clean(repr(LeadShim(WEBHOOK)))
    assert_clean(repr(LeadShim(oauth, stage="item")))
    assert "***" in repr(Webhook(WEBHOOK))


@pytest.mark.parametrize("stage", ["legacy", "legacy_verified", "item_verified", "item"])
def test_no_secret_reaches_any_log_record_or_result(
    caplog: pytest.LogCaptureFixture, stage: str
) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as portal:
        failure = requests.ConnectionError(
            f"HTTPSConnectionPool(host='portal.example.com', port=443): Max retries exceeded "
            f"with url: /rest/7/{WEBHOOK_CODE}/crm.lead.delete.json?auth={ACCESS}"
        )
        portal.post(WEBHOOK + "crm.lead.delete.json", body=failure)
        portal.post(WEBHOOK + "crm.item.delete.json", body=failure)
        portal.post(WEBHOOK + "batch.json", body=failure)
        with caplog.at_level(logging.DEBUG):
            result = LeadShim(WEBHOOK, stage=stage).delete_lead(5)
            try:
                result.raise_for_error()
            except Exception as exc:
                logging.getLogger("test").exception("delete failed: %s", exc)
    assert result.error is not None
    assert "***" in result.error.description
    assert_clean(repr(result))
    assert_clean(str(result.to_dict()))
    assert_clean(str(result.to_legacy()))
    assert caplog.records
    for record in caplog.records:
        assert_clean(record.getMessage())
        assert_clean(str(record.__dict__))


def test_urllib3_debug_lines_are_scrubbed() -> None:
    LeadShim(WEBHOOK)  # installs the filter
    log = logging.getLogger("urllib3.connectionpool")
    record = log.makeRecord(
        log.name,
        logging.DEBUG,
        __file__,
        1,
        '%s://%s:%s "%s %s %s" %s %s',
        (
            "https",
            "portal.example.com",
            443,
            "POST",
            f"/rest/7/{WEBHOOK_CODE}/crm.lead.delete.json",
            "HTTP/1.1",
            200,
            20,
        ),
        None,
    )
    for log_filter in log.filters:
        log_filter.filter(record)  # type: ignore[union-attr]
    assert_clean(record.getMessage())
    assert "/rest/7/***/crm.lead.delete.json" in record.getMessage()
