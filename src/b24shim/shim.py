"""The facade: ``LeadShim.delete_lead`` routes each delete by stage and normalizes the answer.

Data flows one way: flag (:mod:`b24shim.flags`) -> route (:mod:`b24shim.routes`) -> transport
(:mod:`b24shim.transport`) -> normalize (:mod:`b24shim.result`), with differences found in
:mod:`b24shim.differences`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator

import requests

from b24shim._envelope import Reply
from b24shim._facade import EngineFacade
from b24shim.credentials import Credentials
from b24shim.differences import DifferenceCallback
from b24shim.engine import (
    DEFAULT_FALLBACK_TTL,
    Deletes,
    Request,
    Wait,
    forget_legacy_warning,
)
from b24shim.flags import (
    Stage,
    StageSource,
)
from b24shim.ids import parse_lead_id
from b24shim.limits import Clock, RateLimit, SharedLimits
from b24shim.result import DeleteResult
from b24shim.retry import RetryPolicy
from b24shim.transport import DEFAULT_TIMEOUT, Timeout, Transport

__all__ = ["DEFAULT_FALLBACK_TTL", "LeadShim", "delete_lead"]


logger = logging.getLogger(__name__)


class LeadShim(EngineFacade):
    """Deletes leads through ``crm.lead.delete`` or ``crm.item.delete``, by stage.

    Thread-safe: one shim may serve many threads; they share its connection pool, its
    client-side rate limit and its OAuth refresh.

    Args:
        credentials: a :class:`~b24shim.Webhook`, an :class:`~b24shim.OAuth`, or a webhook
            URL string.
        stage: a :class:`~b24shim.Stage`, its string, or a flag provider
            ``(lead_id) -> Stage | str`` evaluated per delete.
        item_percent: 0..100, the share of leads (by a fixed crc32 bucket) that take the item
            route at the item stages.
        kill_switch: send every delete through ``crm.lead.delete``, whatever the stage.
        session: the ``requests.Session`` to send with (one is made when None).
        timeout: seconds, or ``(connect, read)``.
        on_difference: called with each :class:`~b24shim.Difference` found; its exceptions are
            logged, never raised.
        rate_limit: the portal's request bucket to stay under
            (:attr:`RateLimit.STANDARD <b24shim.limits.RateLimit.STANDARD>` by default,
            ``RateLimit.ENTERPRISE``, your own, or None for no client-side limit).
        operating_limit: the portal's operating-time budget per method (seconds per 10 min).
        retry: a :class:`~b24shim.retry.RetryPolicy`.
        fallback_ttl: seconds a portal that lacks ``crm.item.*`` is remembered as such.
        clock: where time is read and waited (tests pass a manual clock).
        verify_percent: 0..100, the share of deletes at the verified stages (by a fixed crc32
            bucket of their own) that get the read checks; the others are plain deletes
            through the stage's route, recorded as not verified.
        legacy_not_found: ``"auto"`` (learn this portal's legacy not-found answer from the
            ``crm.lead.delete`` answers seen, assuming the current portals' ``ERROR_CORE``
            form until then), ``"docs"`` or ``"core"``: what ``to_legacy()`` gives for a lead
            the item route did not find.
        shared: limits shared with other processes, such as
            :class:`~b24shim.limits.RedisLimits`: the portal's bucket, the operating budget
            and the memory of a portal without ``crm.item.*``; None keeps them per process.

    Raises:
        ConfigError: a bad setting, naming it and the allowed values.
    """

    def __init__(
        self,
        credentials: Credentials | str,
        *,
        stage: StageSource = Stage.LEGACY,
        item_percent: int = 100,
        kill_switch: bool = False,
        session: requests.Session | None = None,
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
        self.transport = Transport(
            credentials,
            session=session,
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

    def delete_lead(self, lead_id: object) -> DeleteResult:
        """Delete one lead through the route its stage picks.

        Args:
            lead_id: a positive int, or a string of ASCII digits.

        Returns:
            The normalized :class:`~b24shim.DeleteResult`. Portal, network and body failures
            are in the result, never raised; call ``raise_for_error()`` to raise them.

        Raises:
            InvalidLeadId: before any request, when ``lead_id`` is not a lead id.
        """
        engine = self.engine
        (result,) = self._drive(engine.delete(engine.plan(parse_lead_id(lead_id)))).values()
        return result

    def delete_leads(self, ids: Iterable[object]) -> Iterator[DeleteResult]:
        """Delete many leads through ``batch``, up to 50 commands a request.

        Reads ``ids`` lazily, validates each (a bad one is a ``FAILED`` result with
        ``INVALID_ID``, not an exception), and yields exactly one result per input, in input
        order, as soon as its batch is done. Retries and limits apply per id.

        An answer that shows a credentials or configuration error (a code in
        :data:`b24shim.codes.JOB_STOPPING`: a wrong webhook, an expired token that cannot be
        refreshed, a missing scope...) stops the job: no further request is sent, and every
        input after it still gets its one result, ``FAILED`` with that error code, marked as
        not sent. Stop iterating to stop early: a batch is sent only when its results are
        asked for.
        """
        engine = self.engine
        job = engine.job()
        for value in ids:
            full = job.add(value)
            if full is not None:
                job.finished(self._drive(engine.chunk(full)))
            if job.maybe_ready:
                yield from job.ready()
        last = job.finish()
        if last is not None:
            job.finished(self._drive(engine.chunk(last)))
        yield from job.ready()

    def _drive(self, deletes: Deletes) -> dict[int, DeleteResult]:
        """Send what the engine asks, sleep as it says, until every plan has its result."""
        transport = self.transport
        while (step := deletes.next_step()) is not None:
            if isinstance(step, Wait):
                transport.clock.sleep(step.seconds)
            else:
                deletes.receive(_send(transport, step.request))
        return deletes.results


def _send(transport: Transport, request: Request) -> dict[str, Reply]:
    if request.batch:
        return transport.batch(request.commands)
    ((key, (method, params)),) = request.commands.items()
    return {key: transport.call(method, params)}


_default_shim: LeadShim | None = None
_default_lock = threading.Lock()


def _default() -> LeadShim:
    global _default_shim  # noqa: PLW0603 - the process-wide facade, built once
    shim = _default_shim
    if shim is None:
        with _default_lock:
            if _default_shim is None:
                _default_shim = LeadShim.from_env()
            shim = _default_shim
    return shim


def delete_lead(lead_id: object) -> DeleteResult:
    """Delete one lead with a process-wide ``LeadShim.from_env()``, built on first use.

    Raises:
        ConfigError: on first use, when the environment is not configured.
        InvalidLeadId: when ``lead_id`` is not a lead id.
    """
    return _default().delete_lead(lead_id)


def _reset_default_for_tests() -> None:
    """Forget the process-wide shim and the legacy warning (tests only)."""
    global _default_shim  # noqa: PLW0603
    with _default_lock:
        _default_shim = None
    forget_legacy_warning()
