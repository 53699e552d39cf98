"""AsyncLeadShim against the emulator: what only asyncio has (tasks sharing one shim, sessions).

The behaviour both facades share (every stage, errors, fallback, limits, bulk) runs over both in
test_shim_emulator.py; this file covers tasks, concurrency and the aiohttp session's lifetime.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import aiohttp
import pytest

from b24shim import AsyncLeadShim, ConfigError, ErrorCode, OAuth, Outcome, Route, Stage
from b24shim.emulator import Emulator, ManualClock
from b24shim.retry import RetryPolicy

Factory = Callable[..., Emulator]
FAST_RETRY = RetryPolicy(backoff=0.001, max_backoff=0.01)


def test_sixteen_tasks_share_one_oauth_refresh(b24_emulator_factory: Factory) -> None:
    clock = ManualClock()
    portal = b24_emulator_factory(rate=0, clock=clock)
    access, refresh = portal.issue_tokens(user_id=1, expires_in=60)
    saved: list[tuple[str, str]] = []
    credentials = OAuth(
        portal.base_url,
        access,
        refresh,
        portal.client_id,
        portal.client_secret,
        on_refresh=lambda a, r: saved.append((a, r)),
        token_url=portal.token_url,
    )
    leads = [portal.add_lead() for _ in range(17)]

    async def main() -> list[Outcome]:
        async with AsyncLeadShim(
            credentials, stage="item", clock=clock, rate_limit=None, retry=FAST_RETRY
        ) as shim:
            assert (await shim.delete_lead(leads[0])).ok
            clock.advance(61)  # the access token has expired for all sixteen
            results = await asyncio.gather(*(shim.delete_lead(lead) for lead in leads[1:]))
            assert shim.transport.refreshes == 1
            return [r.outcome for r in results]

    assert asyncio.run(main()) == [Outcome.DELETED] * 16
    assert portal.refresh_count == 1
    assert len(saved) == 1
    assert credentials.refresh_token == saved[0][1] != refresh
    assert not any(portal.lead_exists(lead) for lead in leads)


@pytest.mark.parametrize("concurrency", [1, 4])
def test_bulk_with_batches_in_flight_keeps_one_result_per_id_in_input_order(
    b24_emulator: Emulator, concurrency: int
) -> None:
    leads = [b24_emulator.add_lead() for _ in range(420)]
    inputs: list[object] = [*leads[:200], "12abc", *leads[200:], leads[0]]

    async def main() -> list[tuple[int, Outcome]]:
        async with AsyncLeadShim(
            b24_emulator.admin_webhook, stage="item", rate_limit=None, retry=FAST_RETRY
        ) as shim:
            return [
                (r.lead_id, r.outcome)
                async for r in shim.delete_leads(inputs, concurrency=concurrency)
            ]

    out = asyncio.run(main())
    assert len(out) == len(inputs)
    assert out[200] == (0, Outcome.FAILED)  # the bad input, in its place
    assert [lead for lead, _ in out[:200] + out[201:-1]] == leads
    assert {outcome for _, outcome in out[:200] + out[201:-1]} == {Outcome.DELETED}
    assert out[-1] == (leads[0], Outcome.FAILED)  # deleted already: not found
    batches = [r for r in b24_emulator.requests if r.method == "batch"]
    assert len(batches) == 9  # ceil(421 / 50): one batch per 50 lead ids


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_bad_id_ahead_of_the_first_batch_is_answered_before_anything_is_sent(
    b24_emulator: Emulator, concurrency: int
) -> None:
    leads = [b24_emulator.add_lead() for _ in range(60)]

    async def main() -> tuple[Outcome, int, int]:
        async with AsyncLeadShim(
            b24_emulator.admin_webhook, stage="item", rate_limit=None, retry=FAST_RETRY
        ) as shim:
            results = shim.delete_leads(["abc", *leads], concurrency=concurrency)
            first = await anext(results)
            sent_before = len(b24_emulator.requests)
            rest = [r async for r in results]
            return first.outcome, sent_before, sum(r.ok for r in rest)

    assert asyncio.run(main()) == (Outcome.FAILED, 0, 60)


def test_a_session_passed_in_is_used_and_stays_open(b24_emulator: Emulator) -> None:
    async def main() -> tuple[Route, bool]:
        async with aiohttp.ClientSession() as client:
            shim = AsyncLeadShim(
                b24_emulator.admin_webhook, stage=Stage.ITEM, client=client, rate_limit=None
            )
            async with shim:
                result = await shim.delete_lead(b24_emulator.add_lead())
            return result.route, client.closed

    assert asyncio.run(main()) == (Route.ITEM, False)
    assert [r.method for r in b24_emulator.requests] == ["crm.item.delete"]


def test_aclose_closes_the_session_the_shim_made(b24_emulator: Emulator) -> None:
    async def main() -> bool:
        shim = AsyncLeadShim(b24_emulator.admin_webhook, stage="item", rate_limit=None)
        assert (await shim.delete_lead(b24_emulator.add_lead())).ok
        client = shim.transport.client
        await shim.aclose()
        return client is not None and client.closed

    assert asyncio.run(main())


def test_from_env_reads_the_same_variables_as_the_sync_facade(b24_emulator: Emulator) -> None:
    env = {
        "B24SHIM_WEBHOOK_URL": b24_emulator.admin_webhook,
        "B24SHIM_LEAD_DELETE_STAGE": "item_verified",
        "B24SHIM_RATE_LIMIT": "off",
    }

    async def main() -> tuple[Stage, Route, int]:
        async with AsyncLeadShim.from_env(env) as shim:
            result = await shim.delete_lead(b24_emulator.add_lead())
            return result.stage, result.route, len(b24_emulator.requests)

    assert asyncio.run(main()) == (Stage.ITEM_VERIFIED, Route.ITEM, 1)
    with pytest.raises(ConfigError, match="B24SHIM_ITEM_PERCENT"):
        AsyncLeadShim.from_env({**env, "B24SHIM_ITEM_PERCENT": "150"})


def test_a_refused_connection_is_a_transport_error_tried_again_and_failed() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    webhook = f"http://127.0.0.1:{port}/rest/1/code/"

    async def main() -> tuple[Outcome, ErrorCode | None, int]:
        async with AsyncLeadShim(
            webhook, stage="item", rate_limit=None, retry=RetryPolicy(attempts=3, backoff=0)
        ) as shim:
            result = await shim.delete_lead(5)
            return result.outcome, result.error and result.error.code, shim.transport.requests_sent

    # Refused before sending: nothing can have run, so it is FAILED (not UNKNOWN), tried 3 times.
    assert asyncio.run(main()) == (Outcome.FAILED, ErrorCode.TRANSPORT_ERROR, 3)


def test_concurrency_must_be_a_positive_integer(b24_emulator: Emulator) -> None:
    async def main() -> None:
        async with AsyncLeadShim(b24_emulator.admin_webhook) as shim:
            async for _ in shim.delete_leads([1], concurrency=0):
                pass

    with pytest.raises(ConfigError, match="concurrency"):
        asyncio.run(main())
