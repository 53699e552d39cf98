"""The aiohttp clients people use, unchanged, through the drop-in, against the emulator.

fast_bitrix24 takes a session carrying `ShimMiddleware` (`BitrixAsync(webhook, client=...)`);
bitrix24-rest 2.x opens its own `ClientSession` per call, so it is reached through `install()`.
At every stage the client sees what it sees at stage legacy; at the item stages the portal
receives `crm.item.delete` and no `crm.lead.delete`.
"""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import bitrix24
import pytest
from fast_bitrix24 import BitrixAsync

from b24shim import AsyncLeadShim, Stage
from b24shim import adapters as adapters_module
from b24shim.adapters import ShimMiddleware, install
from b24shim.emulator import Emulator, ManualClock
from facades import delete_methods, halting_batch

Factory = Callable[..., Emulator]


@pytest.fixture(autouse=True)
def _no_installation_left() -> Iterator[None]:
    """Whatever a test installed is undone, even when it failed before its own undo."""
    yield
    adapters_module._reset_for_tests()


def run(
    portal: Emulator,
    main: Callable[[], Awaitable[None]],
    leads: list[int],
    seen: dict[str, Any],
) -> dict[str, Any]:
    """Run a client's deletes; add whether the leads are gone and the delete methods run."""
    portal.reset_counters()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the legacy route warns once
        asyncio.run(main())
    seen["deleted"] = not any(portal.lead_exists(lead) for lead in leads)
    seen["methods"] = delete_methods(portal)
    return seen


def fast_bitrix24_run(portal: Emulator, stage: Stage) -> dict[str, Any]:
    """fast_bitrix24's lead deletes (one, a list, a missing lead) through the middleware."""
    single, many = portal.add_lead(), [portal.add_lead() for _ in range(3)]
    seen: dict[str, Any] = {}

    async def main() -> None:
        shim = AsyncLeadShim(portal.admin_webhook, stage=stage, rate_limit=None)
        async with shim, aiohttp.ClientSession(middlewares=[ShimMiddleware(shim)]) as session:
            bx = BitrixAsync(portal.admin_webhook, client=session, verbose=False)
            seen["single"] = await bx.call("crm.lead.delete", {"id": single})
            seen["list"] = await bx.call("crm.lead.delete", [{"id": lead} for lead in many])
            try:
                await bx.call("crm.lead.delete", {"id": 987654})
            except Exception as exc:  # what the client raises for a missing lead
                seen["missing"] = (type(exc).__name__, str(exc))

    return run(portal, main, [single, *many], seen)


@pytest.mark.parametrize("stage", list(Stage))
def test_fast_bitrix24_sees_at_every_stage_what_it_sees_at_legacy(
    b24_emulator_factory: Factory, stage: Stage
) -> None:
    legacy = fast_bitrix24_run(b24_emulator_factory(rate=0), Stage.LEGACY)
    routed = fast_bitrix24_run(b24_emulator_factory(rate=0), stage)
    assert legacy["single"] is True
    assert legacy["list"] == (True, True, True)
    assert "Item not found" in legacy["missing"][1]
    for key in ("single", "list", "missing", "deleted"):
        assert routed[key] == legacy[key], key
    assert routed["deleted"] is True
    expected = "crm.item.delete" if stage.uses_item else "crm.lead.delete"
    assert set(routed["methods"]) == {expected}
    assert len(routed["methods"]) == 5  # one delete each: single, three listed, missing


def bitrix24_rest_run(portal: Emulator, stage: Stage) -> dict[str, Any]:
    """bitrix24-rest 2.x lead deletes (one, a batch, a missing lead) with install() active."""
    single, pair = portal.add_lead(), [portal.add_lead() for _ in range(2)]
    seen: dict[str, Any] = {}

    async def main() -> None:
        shim = AsyncLeadShim(portal.admin_webhook, stage=stage, rate_limit=None)
        undo = install(shim)
        try:
            bx = bitrix24.Bitrix24(portal.admin_webhook)
            seen["single"] = await bx.callMethod("crm.lead.delete", id=single)
            cmd = {f"d{n}": f"crm.lead.delete?id={lead}" for n, lead in enumerate(pair)}
            batch = await bx.callMethod("batch", cmd=cmd)
            seen["batch"] = (batch["result"], batch["result_error"])
            try:
                await bx.callMethod("crm.lead.delete", id=987654)
            except bitrix24.BitrixError as exc:
                seen["missing"] = str(exc)
        finally:
            undo()
            await shim.aclose()

    return run(portal, main, [single, *pair], seen)


@pytest.mark.parametrize("stage", list(Stage))
def test_bitrix24_rest_through_install_sees_at_every_stage_what_it_sees_at_legacy(
    b24_emulator_factory: Factory, stage: Stage
) -> None:
    legacy = bitrix24_rest_run(b24_emulator_factory(rate=0), Stage.LEGACY)
    routed = bitrix24_rest_run(b24_emulator_factory(rate=0), stage)
    assert legacy["single"] is True
    assert legacy["batch"] == ({"d0": True, "d1": True}, [])
    assert legacy["missing"] == "HTTP error: 400"
    for key in ("single", "batch", "missing", "deleted"):
        assert routed[key] == legacy[key], key
    expected = "crm.item.delete" if stage.uses_item else "crm.lead.delete"
    assert set(routed["methods"]) == {expected}
    assert len(routed["methods"]) == 4


def test_install_undo_restores_aiohttp_and_requests_exactly() -> None:
    import requests  # noqa: PLC0415

    before = (aiohttp.ClientSession.__init__, requests.Session.__init__)
    undo = install()
    assert aiohttp.ClientSession.__init__ is not before[0]
    assert requests.Session.__init__ is not before[1]
    undo()
    undo()  # idempotent
    assert (aiohttp.ClientSession.__init__, requests.Session.__init__) == before


def test_other_calls_pass_through_the_middleware_untouched(b24_emulator: Emulator) -> None:
    lead = b24_emulator.add_lead({"TITLE": "kept"})

    async def main() -> Any:
        shim = AsyncLeadShim(b24_emulator.admin_webhook, stage="item", rate_limit=None)
        async with shim, aiohttp.ClientSession(middlewares=[ShimMiddleware(shim)]) as session:
            url = f"{b24_emulator.admin_webhook}crm.lead.get.json"
            async with session.post(url, json={"id": lead}) as response:
                return response.status, await response.json()

    status, body = asyncio.run(main())
    assert status == 200
    assert body["result"]["TITLE"] == "kept"
    assert [r.method for r in b24_emulator.requests] == ["crm.lead.get"]


@pytest.mark.parametrize("stage", [Stage.ITEM, Stage.ITEM_VERIFIED])
def test_a_halting_batch_through_the_middleware_runs_every_command(
    b24_emulator_factory: Factory, stage: Stage
) -> None:
    # On a portal without crm.item.*, the routed delete stops a halting batch; the legacy
    # batch would have gone on, so the middleware sends the commands after it again, and the
    # caller gets, byte for byte, what the legacy batch answers.
    before, after = (
        b24_emulator_factory(rate=0, item_api=False, clock=ManualClock()) for _ in range(2)
    )
    ids, payload = halting_batch(before, after)

    async def post(portal: Emulator, routed: bool) -> tuple[int, bytes]:
        shim = AsyncLeadShim(portal.admin_webhook, stage=stage, rate_limit=None)
        middlewares = [ShimMiddleware(shim)] if routed else []
        async with (
            shim,
            aiohttp.ClientSession(middlewares=middlewares) as session,
            session.post(portal.admin_webhook + "batch", json=payload) as response,
        ):
            return response.status, await response.read()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the legacy route warns once
        expected = asyncio.run(post(before, routed=False))
        got = asyncio.run(post(after, routed=True))
    assert got == expected
    results = json.loads(got[1])["result"]["result"]
    assert set(results) == {"one", "add", "two"}
    assert not after.lead_exists(ids[0])
    assert not after.lead_exists(ids[1])
    assert after.lead_exists(int(results["add"]))
