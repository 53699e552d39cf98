"""The real clients b24pysdk and pybitrix24 against the emulator over HTTPS.

Both hard-code `https://`; each is given only the emulator's CA file, the way each takes one:
b24pysdk calls `requests.post`, which reads `REQUESTS_CA_BUNDLE`; pybitrix24 calls
`urllib.request.urlopen` with Python's default TLS context, which reads `SSL_CERT_FILE`.
"""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

import pytest

from b24shim.emulator import Emulator

b24pysdk = pytest.importorskip("b24pysdk")
pybitrix24 = pytest.importorskip("pybitrix24")


def _webhook_parts(portal: Emulator) -> tuple[str, str, str]:
    """(domain with port, user id, webhook code) of the admin webhook."""
    url = urlsplit(portal.admin_webhook)
    _, user, code = url.path.strip("/").split("/")
    return url.netloc, user, code


@pytest.fixture
def sdk_client(b24_emulator_tls: Emulator, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", b24_emulator_tls.ca_bundle)
    domain, user, code = _webhook_parts(b24_emulator_tls)
    return b24pysdk.Client(b24pysdk.BitrixWebhook(domain=domain, webhook_token=f"{user}/{code}"))


def test_b24pysdk_add_get_list_update_delete_over_https(b24_emulator_tls: Emulator, sdk_client):
    portal = b24_emulator_tls
    deal_id = sdk_client.crm.deal.add(fields={"TITLE": "sdk deal", "OPPORTUNITY": 10}).result
    assert sdk_client.crm.deal.get(bitrix_id=deal_id).result["OPPORTUNITY"] == "10.00"
    assert sdk_client.crm.deal.update(bitrix_id=deal_id, fields={"TITLE": "renamed"}).result
    listed = sdk_client.crm.deal.list(select=["ID", "TITLE"]).result
    assert list(listed) == [{"ID": str(deal_id), "TITLE": "renamed"}]
    item = sdk_client.crm.item.get(entity_type_id=2, bitrix_id=deal_id).result["item"]
    assert (item["title"], item["opportunity"]) == ("renamed", 10.0)
    lead = sdk_client.crm.item.add(entity_type_id=1, fields={"title": "sdk lead"}).result
    lead_id = lead["item"]["id"]
    changed = sdk_client.crm.item.update(
        entity_type_id=1, bitrix_id=lead_id, fields={"stageId": "JUNK"}
    ).result  # b24pysdk sends a request when its result is read
    assert (changed["item"]["stageId"], changed["item"]["stageSemanticId"]) == ("JUNK", "F")
    assert sdk_client.crm.lead.get(bitrix_id=lead_id).result["STATUS_ID"] == "JUNK"
    assert sdk_client.crm.deal.delete(bitrix_id=deal_id).result is True
    assert sdk_client.crm.item.delete(entity_type_id=1, bitrix_id=lead_id).result == []
    assert portal.get_item(2, deal_id) is None
    assert not portal.lead_exists(lead_id)
    assert [record.method for record in portal.requests] == [
        "crm.deal.add",
        "crm.deal.get",
        "crm.deal.update",
        "crm.deal.list",
        "crm.item.get",
        "crm.item.add",
        "crm.item.update",
        "crm.lead.get",
        "crm.deal.delete",
        "crm.item.delete",
    ]


def test_b24pysdk_refuses_the_emulator_without_its_ca(b24_emulator_tls: Emulator, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    domain, user, code = _webhook_parts(b24_emulator_tls)
    client = b24pysdk.Client(b24pysdk.BitrixWebhook(domain=domain, webhook_token=f"{user}/{code}"))
    with pytest.raises(b24pysdk.errors.BitrixRequestError, match="CERTIFICATE_VERIFY_FAILED"):
        _ = client.crm.deal.fields().result
    assert b24_emulator_tls.requests == []


def test_pybitrix24_add_get_list_update_delete_over_https(b24_emulator_tls: Emulator, monkeypatch):
    portal = b24_emulator_tls
    monkeypatch.setenv("SSL_CERT_FILE", portal.ca_bundle)
    domain, user, code = _webhook_parts(portal)
    bx = pybitrix24.Bitrix24(domain, user_id=int(user))
    contact_id = bx.call_webhook(
        code, "crm.contact.add", {"fields": {"NAME": "Ann", "PHONE": [{"VALUE": "+100"}]}}
    )["result"]
    got = bx.call_webhook(code, "crm.contact.get", {"id": contact_id})["result"]
    assert (got["NAME"], got["PHONE"][0]["VALUE"]) == ("Ann", "+100")
    assert bx.call_webhook(
        code, "crm.contact.update", {"id": contact_id, "fields": {"NAME": "Bo"}}
    )["result"]
    listed = bx.call_webhook(code, "crm.contact.list", {"select": ["ID", "NAME"]})
    assert (listed["result"], listed["total"]) == ([{"ID": str(contact_id), "NAME": "Bo"}], 1)
    assert "operating_reset_at" in listed["time"]
    item = bx.call_webhook(code, "crm.item.get", {"entityTypeId": 3, "id": contact_id})
    assert item["result"]["item"]["fm"][0]["value"] == "+100"
    batch = bx.call_batch_webhook(
        code, {"a": ("crm.company.add", {"fields": {"TITLE": "Acme"}}), "b": "crm.company.list"}
    )
    assert batch["result"]["result_total"] == {"b": 1}
    assert bx.call_webhook(code, "crm.contact.delete", {"id": contact_id})["result"] is True
    missing = bx.call_webhook(code, "crm.contact.get", {"id": contact_id})
    assert missing == {"error": "", "error_description": "Not found"}
    assert portal.get_item(3, contact_id) is None


def test_pybitrix24_refuses_the_emulator_without_its_ca(b24_emulator_tls: Emulator, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    domain, user, code = _webhook_parts(b24_emulator_tls)
    bx = pybitrix24.Bitrix24(domain, user_id=int(user))
    with pytest.raises(pybitrix24.PBx24RequestError) as caught:
        bx.call_webhook(code, "crm.lead.list")
    assert isinstance(caught.value.args[1].reason, ssl.SSLCertVerificationError)
