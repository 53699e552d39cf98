"""delete_leads: batches of 50, one result per input in order, lazily, nothing lost."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from b24shim import ErrorCode, LeadShim, Outcome, Route, Stage
from conftest import WEBHOOK
from portal_answers import batch_answer

BATCH_URL = WEBHOOK + "batch.json"


def parse_cmd(cmd: str) -> tuple[str, dict[str, list[str]]]:
    method, _, query = cmd.partition("?")
    return method, parse_qs(query)


class BatchPortal:
    """Answers batch calls of deletes and list reads; leads in `existing` can be deleted."""

    def __init__(self, mock: responses.RequestsMock, existing: set[int]) -> None:
        self.existing = set(existing)
        self.batches: list[dict[str, str]] = []
        self.fail_next: list[Any] = []  # answers that replace a batch's, after it ran
        self.refuse_next: list[Any] = []  # answers given instead of running a batch
        mock.add_callback(responses.POST, BATCH_URL, callback=self.batch)

    def batch(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body or b"{}")
        cmd: dict[str, str] = body["cmd"]
        self.batches.append(cmd)
        if self.refuse_next:
            return self.refuse_next.pop(0)  # type: ignore[no-any-return]
        results: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for key, command in cmd.items():
            method, params = parse_cmd(command)
            if method.endswith(".list"):
                ids = [
                    int(v)
                    for k, vs in params.items()
                    if "ID" in k.upper() and "[" in k
                    for v in vs
                    if k.startswith("filter")
                ]
                rows = [{"ID": str(i)} for i in ids if i in self.existing]
                results[key] = (
                    {"items": [{"id": int(r["ID"])} for r in rows]}
                    if method == "crm.item.list"
                    else rows
                )
                continue
            lead = int(params["id"][0])
            if lead in self.existing:
                self.existing.discard(lead)
                results[key] = True if method == "crm.lead.delete" else []
            elif method == "crm.lead.delete":
                errors[key] = {"error": "ERROR_CORE", "error_description": "Item not found"}
            else:
                errors[key] = {"error": "NOT_FOUND", "error_description": "Item not found"}
        if self.fail_next:
            failure = self.fail_next.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return failure  # type: ignore[no-any-return]
        return 200, {}, json.dumps(batch_answer(results, errors))


def test_ids_are_packed_fifty_to_a_batch_in_order() -> None:
    with responses.RequestsMock() as mock:
        portal = BatchPortal(mock, set(range(1, 121)))
        results = list(LeadShim(WEBHOOK, stage="item").delete_leads(range(1, 121)))
    assert [len(b) for b in portal.batches] == [50, 50, 20]
    assert portal.batches[0]["d0"] == "crm.item.delete?entityTypeId=1&id=1"
    assert [r.lead_id for r in results] == list(range(1, 121))
    assert {r.outcome for r in results} == {Outcome.DELETED}
    assert all(r.route is Route.ITEM for r in results)


def test_bad_ids_become_failed_results_in_place_and_lose_nothing() -> None:
    inputs: list[object] = [1, "2", "12abc", 3, None, -4, [5], " 6 "]
    with responses.RequestsMock() as mock:
        portal = BatchPortal(mock, {1, 2, 3, 6})
        results = list(LeadShim(WEBHOOK).delete_leads(inputs))
    assert len(results) == len(inputs)
    assert [r.outcome for r in results] == [
        Outcome.DELETED,
        Outcome.DELETED,
        Outcome.FAILED,
        Outcome.DELETED,
        Outcome.FAILED,
        Outcome.FAILED,
        Outcome.FAILED,
        Outcome.DELETED,
    ]
    assert [r.lead_id for r in results] == [1, 2, 0, 3, 0, -4, 0, 6]
    bad = results[2]
    assert bad.error is not None
    assert bad.error.code is ErrorCode.INVALID_ID
    assert "12abc" in bad.error.description
    assert bad.to_legacy() == (
        400,
        {"error": "", "error_description": "ID is not defined or invalid."},
    )
    assert len(portal.batches) == 1
    assert len(portal.batches[0]) == 4


def test_per_command_errors_are_that_ids_result() -> None:
    with responses.RequestsMock() as mock:
        BatchPortal(mock, {1, 3})
        results = list(LeadShim(WEBHOOK, stage="item").delete_leads([1, 2, 3, 3]))
    assert [r.outcome for r in results] == [
        Outcome.DELETED,
        Outcome.FAILED,
        Outcome.DELETED,
        Outcome.FAILED,
    ]
    assert results[1].error is not None
    assert results[1].error.code is ErrorCode.NOT_FOUND


def test_a_generator_is_read_lazily_and_results_come_per_batch() -> None:
    consumed = itertools.count(1)
    read: list[int] = []

    def endless() -> Iterator[int]:
        for lead in consumed:
            read.append(lead)
            yield lead

    with responses.RequestsMock() as mock:
        portal = BatchPortal(mock, set(range(1, 200)))
        results = LeadShim(WEBHOOK, stage="item").delete_leads(endless())
        first = list(itertools.islice(results, 10))
    assert [r.lead_id for r in first] == list(range(1, 11))
    assert len(portal.batches) == 1
    assert len(read) == 51  # one chunk, plus the id that showed the chunk was full


def test_a_bad_id_ahead_of_the_first_batch_is_answered_before_anything_is_sent() -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        portal = BatchPortal(mock, set(range(1, 200)))
        results = LeadShim(WEBHOOK, stage="item").delete_leads(["abc", *range(1, 61)])
        first = next(results)
        assert first.outcome is Outcome.FAILED
        assert first.error is not None
        assert first.error.code is ErrorCode.INVALID_ID
        assert portal.batches == []
        assert sum(r.ok for r in results) == 60
    assert [len(b) for b in portal.batches] == [50, 10]


def test_a_batch_lost_after_sending_is_retried_and_reports_already_absent() -> None:
    with responses.RequestsMock() as mock:
        portal = BatchPortal(mock, {1, 2, 3})
        portal.fail_next = [requests.ReadTimeout("read timed out")]
        results = list(LeadShim(WEBHOOK, stage="item").delete_leads([1, 2, 3, 4]))
    # The first batch ran (the portal deleted 1..3) but its answer was lost. The retry finds
    # every lead gone: absent, whoever removed it (4 never existed: absent all the same).
    assert len(portal.batches) == 2
    assert [r.outcome for r in results] == [Outcome.ALREADY_ABSENT] * 4
    assert all(r.ok and r.error is None for r in results)


def test_a_refused_batch_is_retried_without_doubt() -> None:
    limit = {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
    with responses.RequestsMock() as mock:
        portal = BatchPortal(mock, {1, 2})
        portal.refuse_next = [(503, {}, json.dumps(limit))]
        results = list(LeadShim(WEBHOOK, stage="item").delete_leads([1, 2]))
    assert len(portal.batches) == 2
    assert [r.outcome for r in results] == [Outcome.DELETED, Outcome.DELETED]


def test_verified_bulk_reads_both_families_in_the_same_batch() -> None:
    with responses.RequestsMock() as mock:
        portal = BatchPortal(mock, set(range(1, 101)))
        results = list(LeadShim(WEBHOOK, stage=Stage.LEGACY_VERIFIED).delete_leads(range(1, 101)))
    # All 50 commands: 47 deletes + 3 reads (two lists before, one after), then the rest.
    assert [len(b) for b in portal.batches] == [50, 50, 9]
    first = portal.batches[0]
    keys = list(first)
    assert keys[:2] == ["lead_before", "item_before"]
    assert keys[-1] == "item_after"
    assert first["lead_before"].startswith("crm.lead.list?filter[@ID][0]=1&")
    assert first["item_before"].startswith("crm.item.list?entityTypeId=1&filter[@id][0]=1&")
    assert sum(k.startswith("d") for k in keys) == 47
    assert all(r.outcome is Outcome.DELETED for r in results)
    assert all(r.differences == () for r in results)


def test_verified_bulk_finds_leads_still_visible_to_the_other_family() -> None:
    class Sticky(BatchPortal):
        """The item family keeps returning lead 2 after the legacy delete."""

        def batch(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
            status, headers, text = super().batch(request)
            answer = json.loads(text)
            if "item_after" in answer["result"]["result"]:
                answer["result"]["result"]["item_after"] = {"items": [{"id": 2}]}
            return status, headers, json.dumps(answer)

    with responses.RequestsMock() as mock:
        Sticky(mock, {1, 2, 3})
        results = list(LeadShim(WEBHOOK, stage="legacy_verified").delete_leads([1, 2, 3]))
    assert [[d.kind for d in r.differences] for r in results] == [[], ["still_visible"], []]


def test_ids_reach_the_portal_in_query_form() -> None:
    with responses.RequestsMock() as mock:
        portal = BatchPortal(mock, {7})
        list(LeadShim(WEBHOOK).delete_leads(["7"]))
    assert portal.batches == [{"d0": "crm.lead.delete?id=7"}]
    assert parse_qs(urlsplit("x?" + portal.batches[0]["d0"].split("?")[1]).query) == {"id": ["7"]}


REFUSALS = {
    ErrorCode.INVALID_CREDENTIALS: (401, "INVALID_CREDENTIALS", "Invalid request credentials"),
    ErrorCode.EXPIRED_TOKEN: (401, "expired_token", "The access token provided has expired"),
    ErrorCode.INSUFFICIENT_SCOPE: (401, "insufficient_scope", "The request requires higher"),
    ErrorCode.HTTPS_REQUIRED: (401, "INVALID_REQUEST", "Https required."),
    ErrorCode.PLAN_RESTRICTED: (
        401,
        "ACCESS_DENIED",
        "REST is available only on commercial plans.",
    ),
    ErrorCode.PORTAL_DELETED: (403, "PORTAL_DELETED", "Portal was deleted"),
    ErrorCode.OVERLOAD_LIMIT: (401, "OVERLOAD_LIMIT", "REST API is blocked due to overload."),
}


@pytest.mark.parametrize("code", list(REFUSALS))
def test_a_refused_credential_stops_the_job_and_every_input_still_gets_its_result(
    code: ErrorCode,
) -> None:
    status, raw, text = REFUSALS[code]
    inputs: list[object] = [*range(1, 121), "12abc", 121]
    with responses.RequestsMock() as mock:
        portal = BatchPortal(mock, set(range(1, 122)))
        portal.refuse_next = [(status, {}, json.dumps({"error": raw, "error_description": text}))]
        results = list(LeadShim(WEBHOOK, stage="item").delete_leads(inputs))
    assert len(portal.batches) == 1  # not 3: the first answer showed every call would fail
    assert portal.existing == set(range(1, 122))
    assert [r.lead_id for r in results] == [*range(1, 121), 0, 121]
    assert all(r.outcome is Outcome.FAILED for r in results)
    codes = [r.error.code for r in results if r.error is not None]
    assert codes == [code] * 120 + [ErrorCode.INVALID_ID, code]
    sent, unsent = results[0], results[50]
    assert sent.error is not None
    assert unsent.error is not None
    assert (sent.error.http_status, sent.error.raw_code) == (status, raw)
    assert unsent.error.raw_code == raw
    assert unsent.error.http_status is None
    assert unsent.error.description.startswith(
        f"not sent: an earlier answer in this job showed {code}"
    )
    assert unsent.raw == {}


def test_a_missing_scope_inside_batch_stops_the_job_too() -> None:
    # Inside batch the portal re-checks the scope per command, with an empty description.
    scope = {"error": "insufficient_scope", "error_description": ""}
    answer = {"result": {"result": [], "result_error": {f"d{i}": scope for i in range(50)}}}
    with responses.RequestsMock() as mock:
        portal = BatchPortal(mock, set(range(1, 101)))
        portal.refuse_next = [(200, {}, json.dumps(answer))]
        results = list(LeadShim(WEBHOOK, stage="legacy").delete_leads(range(1, 101)))
    assert len(portal.batches) == 1
    assert {r.error.code for r in results if r.error} == {ErrorCode.INSUFFICIENT_SCOPE}
    assert len(results) == 100


def test_errors_about_one_lead_never_stop_the_job() -> None:
    denied = {"error": "ACCESS_DENIED", "error_description": "Access denied"}
    answer = {"result": {"result": [], "result_error": {f"d{i}": denied for i in range(50)}}}
    with responses.RequestsMock() as mock:
        portal = BatchPortal(mock, set(range(51, 101)))
        portal.refuse_next = [(200, {}, json.dumps(answer))]
        results = list(LeadShim(WEBHOOK, stage="item").delete_leads(range(1, 101)))
    assert len(portal.batches) == 2
    assert [r.outcome for r in results] == [Outcome.FAILED] * 50 + [Outcome.DELETED] * 50


class PartlyReadablePortal:
    """A user who may read and delete some leads only: the others exist but are denied.

    Lists leave the denied leads out, exactly as they leave missing ones out; gets and deletes
    answer the denial (legacy: "Access denied.", item: ACCESS_DENIED).
    """

    def __init__(self, mock: responses.RequestsMock, own: set[int], denied: set[int]) -> None:
        self.own, self.denied = set(own), set(denied)
        self.batches: list[dict[str, str]] = []
        mock.add_callback(responses.POST, BATCH_URL, callback=self.batch)

    def run(self, command: str) -> tuple[object, dict[str, str] | None]:
        method, params = parse_cmd(command)
        legacy = method.startswith("crm.lead.")
        if method.endswith(".list"):
            ids = [int(v) for k, vs in params.items() if k.startswith("filter") for v in vs]
            seen = [i for i in ids if i in self.own]
            if legacy:
                return [{"ID": str(i)} for i in seen], None
            return {"items": [{"id": i} for i in seen]}, None
        lead = int(params["id"][0])
        if lead in self.denied:
            if legacy:
                return None, {"error": "", "error_description": "Access denied."}
            return None, {"error": "ACCESS_DENIED", "error_description": "Access denied"}
        if lead not in self.own:
            if legacy:
                text = "Not found" if method.endswith(".get") else "Item not found"
                return None, {
                    "error": "" if text == "Not found" else "ERROR_CORE",
                    "error_description": text,
                }
            return None, {"error": "NOT_FOUND", "error_description": "Item not found"}
        if method.endswith(".delete"):
            self.own.discard(lead)
            return (True if legacy else []), None
        return ({"ID": str(lead)} if legacy else {"item": {"id": lead}}), None

    def batch(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        cmd: dict[str, str] = json.loads(request.body or b"{}")["cmd"]
        self.batches.append(cmd)
        results: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for key, command in cmd.items():
            result, error = self.run(command)
            if error is None:
                results[key] = result
            else:
                errors[key] = error
        return 200, {}, json.dumps(batch_answer(results, errors))


def test_bulk_checks_do_not_mistake_a_lead_the_user_may_not_read_for_a_missing_one() -> None:
    # Lead 20 exists but is denied to this user; 30 is missing. A list shows neither, a get
    # tells them apart: bulk must record what single verification records, no false outcome.
    found: dict[str, set[tuple[int, str]]] = {}
    for mode in ("single", "bulk"):
        seen: list[Any] = []
        with responses.RequestsMock() as mock:
            portal = PartlyReadablePortal(mock, own={10, 11}, denied={20})
            shim = LeadShim(
                WEBHOOK, stage="legacy_verified", rate_limit=None, on_difference=seen.append
            )
            ids = [10, 20, 30, 11]
            results = (
                [shim.delete_lead(i) for i in ids]
                if mode == "single"
                else list(shim.delete_leads(ids))
            )
        found[mode] = {(d.lead_id, d.kind) for d in seen}
        assert [r.outcome for r in results] == [
            Outcome.DELETED,
            Outcome.FAILED,
            Outcome.FAILED,
            Outcome.DELETED,
        ]
        if mode == "bulk":
            _, reread = portal.batches
            assert set(reread.values()) == {
                "crm.lead.get?id=20",
                "crm.item.get?entityTypeId=1&id=20",
                "crm.lead.get?id=30",
                "crm.item.get?entityTypeId=1&id=30",
            }
    assert found["bulk"] == found["single"]
    assert (20, "outcome") not in found["bulk"]


def test_a_verified_chunk_whose_deletes_all_succeeded_costs_no_extra_request() -> None:
    with responses.RequestsMock() as mock:
        portal = PartlyReadablePortal(mock, own=set(range(1, 47)), denied=set())
        shim = LeadShim(WEBHOOK, stage="item_verified", rate_limit=None)
        assert all(r.ok for r in shim.delete_leads(range(1, 47)))
    assert len(portal.batches) == 1
