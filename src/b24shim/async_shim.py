"""The asyncio facade: ``await AsyncLeadShim(...).delete_lead(id)``, on aiohttp.

The same engine as :class:`~b24shim.LeadShim` decides every delete (:mod:`b24shim.engine`);
this front end only sends what it asks through :class:`~b24shim.async_transport.AsyncTransport`
and waits as it says, with ``asyncio.sleep``. Needs the extra ``aiohttp``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from types import TracebackType
from typing import TYPE_CHECKING

from b24shim._facade import EngineFacade
from b24shim._plan import Plan
from b24shim.async_transport import AsyncTransport
from b24shim.credentials import Credentials
from b24shim.differences import DifferenceCallback
from b24shim.engine import (
    DEFAULT_FALLBACK_TTL,
    Deletes,
    Wait,
)
from b24shim.errors import ConfigError
from b24shim.flags import Stage, StageSource
from b24shim.ids import parse_lead_id
from b24shim.limits import Clock, RateLimit, SharedLimits
from b24shim.result import DeleteResult
from b24shim.retry import RetryPolicy
from b24shim.transport import DEFAULT_TIMEOUT, Timeout

if TYPE_CHECKING:
    import aiohttp

__all__ = ["AsyncLeadShim"]


class AsyncLeadShim(EngineFacade):
    """Deletes leads through ``crm.lead.delete`` or ``crm.item.delete``, by stage, on asyncio.

    Takes :class:`~b24shim.LeadShim`'s arguments, with ``client=`` (an
    ``aiohttp.ClientSession``) in place of ``session=``, and has its semantics: stages,
    rollout, kill switch, fallback, verified stages, differences, evidence, bulk, limits,
    retries. Every task using one shim shares its limits and its OAuth refresh (one refresh,
    however many tasks find the token expired). Use it as ``async with AsyncLeadShim(...) as
    shim`` or call :meth:`aclose` when done (a ``client`` passed in stays open).

    Raises:
        ConfigError: a bad setting, naming it and the allowed values; also when aiohttp is not
            installed (``pip install 'b24shim[aiohttp]'``).
    """

    def __init__(
        self,
        credentials: Credentials | str,
        *,
        stage: StageSource = Stage.LEGACY,
        item_percent: int = 100,
        kill_switch: bool = False,
        client: aiohttp.ClientSession | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        on_difference: DifferenceCallback | None = None,
        rate_limit: RateLimit | None = RateLimit.STANDARD,
        operating_limit: float = 480.0,
        retry: RetryPolicy | None = None,
        fallback_ttl: float = DEFAULT_FALLBACK_TTL,
        clock: Clock | None = None,
        verify_percent: int = 100,
        legacy_not_found: str = "auto",
        shared: SharedLimits | None = None,
    ) -> None:
        credentials = self._checked(credentials, rate_limit, shared)
        self.transport = AsyncTransport(
            credentials,
            client=client,
            timeout=timeout,
            rate_limit=rate_limit,
            operating_limit=operating_limit,
            clock=clock,
            shared=shared,
        )
        self._start(
            self.transport.clock.time,
            stage=stage,
            item_percent=item_percent,
            kill_switch=kill_switch,
            on_difference=on_difference,
            retry=retry,
            fallback_ttl=fallback_ttl,
            verify_percent=verify_percent,
            legacy_not_found=legacy_not_found,
            shared=shared,
        )

    async def __aenter__(self) -> AsyncLeadShim:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the aiohttp session the shim made for itself (a ``client`` passed in stays)."""
        await self.transport.aclose()

    async def delete_lead(self, lead_id: object) -> DeleteResult:
        """Delete one lead through the route its stage picks (see ``LeadShim.delete_lead``).

        Raises:
            InvalidLeadId: before any request, when ``lead_id`` is not a lead id.
        """
        engine = self.engine
        deletes = engine.delete(engine.plan(parse_lead_id(lead_id)))
        (result,) = (await self._drive(deletes)).values()
        return result

    async def delete_leads(
        self, ids: Iterable[object], *, concurrency: int = 1
    ) -> AsyncIterator[DeleteResult]:
        """Delete many leads through ``batch``; one result per input, in input order.

        As ``LeadShim.delete_leads`` (validation, job stopping, results as soon as they are
        next in order), with up to ``concurrency`` batches in flight: raise it only where the
        portal has no request limit (on-premise portals) or with ``rate_limit=None`` and a
        limit of your own; the default stays sequential under the bucket.
        """
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigError(
                "concurrency", f"concurrency must be an integer 1 or more, got {concurrency!r}"
            )
        engine = self.engine
        job = engine.job()
        running: set[asyncio.Task[None]] = set()

        async def run(chunk: list[Plan]) -> None:
            job.finished(await self._drive(engine.chunk(chunk)))

        async def settle(room: int) -> None:
            nonlocal running
            while len(running) > room:
                done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()

        try:
            for value in ids:
                full = job.add(value)
                if full is not None:
                    running.add(asyncio.ensure_future(run(full)))
                    await settle(concurrency - 1)
                if job.maybe_ready:
                    for result in job.ready():
                        yield result
            last = job.finish()
            if last is not None:
                running.add(asyncio.ensure_future(run(last)))
            await settle(0)
            for result in job.ready():
                yield result
        finally:
            for task in running:
                task.cancel()

    async def _drive(self, deletes: Deletes) -> dict[int, DeleteResult]:
        """Send what the engine asks, wait as it says, until every plan has its result."""
        transport = self.transport
        while (step := deletes.next_step()) is not None:
            if isinstance(step, Wait):
                await transport.sleep(step.seconds)
                continue
            # Sent here, not in a coroutine of its own: one await less for every request.
            request = step.request
            if request.batch:
                replies = await transport.batch(request.commands)
            else:
                ((key, (method, params)),) = request.commands.items()
                replies = {key: await transport.call(method, params)}
            deletes.receive(replies)
        return deletes.results
