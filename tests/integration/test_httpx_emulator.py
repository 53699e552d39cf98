"""Plain httpx code, unchanged, through ShimTransport / AsyncShimTransport, against the emulator.

At every stage the caller gets the status and body it gets at stage legacy; at the item stages
the portal runs `crm.item.delete` and no `crm.lead.delete`.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from b24shim import AsyncLeadShim, LeadShim, Stage
from b24shim import adapters as adapters_module
from b24shim.adapters import AsyncShimTransport, ShimTransport, install
from b24shim.emulator import Emulator
from facades import delete_methods

Factory = Callable[..., Emulator]


@pytest.fixture(autouse=True)
def _no_installation_left() -> Iterator[None]:
    """Whatever a test installed is undone, even when it failed before its own undo."""
    yield
    adapters_module._reset_for_tests()


def calls(portal: Emulator) -> list[tuple[str, dict[str, Any]]]:
    """A legacy integration's calls: one delete, a missing lead, a bad id, a batch."""
    one, pair = portal.add_lead(), [portal.add_lead() for _ in range(2)]
    hook = portal.admin_webhook
    return [
        (f"{hook}crm.lead.delete.json", {"id": one}),
        (f"{hook}crm.lead.delete.json", {"id": 987654}),
        (f"{hook}crm.lead.delete", {"ID": "abc"}),
        (
            f"{hook}batch.json",
            {"cmd": {f"d{n}": f"crm.lead.delete?id={x}" for n, x in enumerate(pair)}},
        ),
    ]


def answers(responses: list[httpx.Response]) -> list[tuple[int, Any]]:
    return [(r.status_code, _without_time(r.json())) for r in responses]


def _without_time(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: _without_time(v) for k, v in body.items() if k not in ("time", "result_time")}
    return body


def sync_run(portal: Emulator, stage: Stage) -> tuple[list[tuple[int, Any]], list[str]]:
    shim = LeadShim(portal.admin_webhook, stage=stage, rate_limit=None)
    planned = calls(portal)
    portal.reset_counters()
    with httpx.Client(transport=ShimTransport(shim)) as client:
        out = answers([client.post(url, json=body) for url, body in planned])
    return out, delete_methods(portal)


def async_run(portal: Emulator, stage: Stage) -> tuple[list[tuple[int, Any]], list[str]]:
    planned = calls(portal)
    portal.reset_counters()

    async def main() -> list[httpx.Response]:
        shim = AsyncLeadShim(portal.admin_webhook, stage=stage, rate_limit=None)
        async with shim, httpx.AsyncClient(transport=AsyncShimTransport(shim)) as client:
            return [await client.post(url, json=body) for url, body in planned]

    return answers(asyncio.run(main())), delete_methods(portal)


@pytest.mark.parametrize("run", [sync_run, async_run], ids=["Client", "AsyncClient"])
@pytest.mark.parametrize("stage", list(Stage))
def test_httpx_callers_see_at_every_stage_what_they_see_at_legacy(
    b24_emulator_factory: Factory, stage: Stage, run: Callable[..., Any]
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the legacy route warns once
        legacy, legacy_methods = run(b24_emulator_factory(rate=0), Stage.LEGACY)
        routed, methods = run(b24_emulator_factory(rate=0), stage)
    assert legacy[0] == (200, {"result": True})
    assert legacy[1] == (400, {"error": "ERROR_CORE", "error_description": "Item not found"})
    assert legacy[2] == (400, {"error": "", "error_description": "ID is not defined or invalid."})
    assert routed == legacy
    expected = "crm.item.delete" if stage.uses_item else "crm.lead.delete"
    # The bad id is answered without a request, as the portal answers it; every real delete
    # (one, the missing lead, two in the batch) takes the stage's route.
    assert legacy_methods == ["crm.lead.delete"] * 4
    assert methods == [expected] * 4


def test_install_routes_new_httpx_clients_and_its_undo_restores_them(
    b24_emulator: Emulator,
) -> None:
    before = (httpx.Client.__init__, httpx.AsyncClient.__init__)
    shim = LeadShim(b24_emulator.admin_webhook, stage="item", rate_limit=None)
    undo = install(shim)
    lead = b24_emulator.add_lead()
    with httpx.Client() as client:
        response = client.post(f"{b24_emulator.admin_webhook}crm.lead.delete", data={"id": lead})
    undo()
    assert (httpx.Client.__init__, httpx.AsyncClient.__init__) == before
    assert response.status_code == 200
    assert response.json()["result"] is True
    assert delete_methods(b24_emulator) == ["crm.item.delete"]


def test_other_httpx_calls_pass_through_untouched(b24_emulator: Emulator) -> None:
    lead = b24_emulator.add_lead({"TITLE": "kept"})
    shim = LeadShim(b24_emulator.admin_webhook, stage="item", rate_limit=None)
    with httpx.Client(transport=ShimTransport(shim)) as client:
        response = client.get(f"{b24_emulator.admin_webhook}crm.lead.get.json", params={"id": lead})
    assert response.json()["result"]["TITLE"] == "kept"
    assert [r.method for r in b24_emulator.requests] == ["crm.lead.get"]
