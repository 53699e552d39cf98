"""The facade: ``LeadShim.delete_lead`` routes each delete by stage and normalizes the answer.

Data flows one way: flag (:mod:`b24shim.flags`) -> route (:mod:`b24shim.routes`) -> transport
(:mod:`b24shim.transport`) -> normalize (:mod:`b24shim.result`), with differences found in
:mod:`b24shim.differences`.
"""

from __future__ import annotations

import collections
import logging
import os
import random
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TypedDict

import attrs
import cachetools
import requests

from b24shim._envelope import Reply
from b24shim._not_found import LegacyNotFound
from b24shim._plan import Plan
from b24shim._variables import unknown_variables
from b24shim.bulk import Chunker, batch_for, reread_for, split_answer
from b24shim.codes import JOB_STOPPING, ErrorCode
from b24shim.credentials import DEFAULT_TOKEN_URL, Credentials, OAuth, Webhook
from b24shim.differences import (
    DifferenceCallback,
    DifferenceReporter,
    VerificationReads,
    fallback_difference,
    shape_differences,
    verification_differences,
)
from b24shim.errors import B24ShimWarning, ConfigError, InvalidLeadId, LegacyRouteWarning
from b24shim.flags import (
    Stage,
    StagePolicy,
    StageSource,
    env_percent,
    env_switch,
    parse_stage,
    verify_bucket_of,
)
from b24shim.ids import parse_lead_id
from b24shim.limits import Clock, RateLimit, RedisLimits, SharedLimits
from b24shim.result import DeleteResult, Difference, ErrorInfo, Outcome, Route
from b24shim.retry import RetryPolicy
from b24shim.routes import ITEM, LEGACY, Read
from b24shim.sinks import DIFFERENCE_LOG_VARIABLE, JsonlDifferenceSink
from b24shim.transport import DEFAULT_TIMEOUT, Timeout, Transport

__all__ = ["DEFAULT_FALLBACK_TTL", "LeadShim", "delete_lead"]

#: Seconds a portal without crm.item.* is remembered as such.
DEFAULT_FALLBACK_TTL = 600.0

#: A Redis URL: the limits are shared with every process that names the same Redis.
REDIS_URL_VARIABLE = "B24SHIM_REDIS_URL"

logger = logging.getLogger(__name__)


_legacy_warned = False
_legacy_warned_lock = threading.Lock()


_LIBRARY_PACKAGES = frozenset({"b24shim", "requests", "urllib3"})


def _user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside b24shim."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None:
        name = str(frame.f_globals.get("__name__", ""))
        # requests and urllib3 frames too: through the adapter, the user's call is below them.
        if name.partition(".")[0] not in _LIBRARY_PACKAGES:
            break
        frame, level = frame.f_back, level + 1  # type: ignore[assignment]
    return level


def _warn_legacy_once() -> None:
    global _legacy_warned  # noqa: PLW0603 - once per process, by design
    with _legacy_warned_lock:
        if _legacy_warned:
            return
        _legacy_warned = True
    warnings.warn(
        "crm.lead.delete is deprecated by Bitrix24 (development stopped); its replacement is "
        "crm.item.delete with entityTypeId=1. Move through the stages legacy_verified, "
        "item_verified, item (B24SHIM_LEAD_DELETE_STAGE; see MIGRATION.md).",
        LegacyRouteWarning,
        stacklevel=_user_stacklevel(),
    )


class LeadShim:
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
        if isinstance(credentials, str):
            credentials = Webhook(credentials)
        if not isinstance(credentials, (Webhook, OAuth)):
            raise ConfigError(
                "credentials",
                f"credentials must be a Webhook, an OAuth or a webhook URL, "
                f"got {type(credentials).__name__}",
            )
        if not isinstance(kill_switch, bool):
            raise ConfigError("kill_switch", f"kill_switch must be a bool, got {kill_switch!r}")
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            raise ConfigError("rate_limit", "rate_limit must be a RateLimit or None")
        if shared is not None and not callable(getattr(shared, "bucket", None)):
            raise ConfigError(
                "shared", f"shared must be a RedisLimits or None, got {type(shared).__name__}"
            )
        self.policy = StagePolicy(stage, item_percent, kill_switch)
        if (
            isinstance(verify_percent, bool)
            or not isinstance(verify_percent, int)
            or not 0 <= verify_percent <= 100
        ):
            raise ConfigError(
                "verify_percent",
                f"verify_percent must be an integer 0..100, got {verify_percent!r}",
            )
        self.verify_percent = verify_percent
        self._not_found = LegacyNotFound(legacy_not_found)
        self.transport = Transport(
            credentials,
            session=session,
            timeout=timeout,
            rate_limit=rate_limit,
            operating_limit=operating_limit,
            clock=clock,
            shared=shared,
        )
        self.shared = shared
        self.retry = retry if retry is not None else RetryPolicy()
        #: Logs each difference found and passes it to ``on_difference``.
        self.reporter = DifferenceReporter(on_difference)
        self._item_missing: cachetools.TTLCache[str, bool] = cachetools.TTLCache(
            maxsize=64, ttl=fallback_ttl, timer=self.transport.clock.time
        )
        self._item_missing_lock = threading.Lock()
        self._rng = random.Random()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LeadShim:
        """Build a shim from ``B24SHIM_*`` environment variables (see MIGRATION.md).

        Credentials: ``B24SHIM_WEBHOOK_URL``, or ``B24SHIM_PORTAL_URL`` +
        ``B24SHIM_ACCESS_TOKEN`` (+ ``B24SHIM_REFRESH_TOKEN``, ``B24SHIM_CLIENT_ID``,
        ``B24SHIM_CLIENT_SECRET``, ``B24SHIM_TOKEN_URL``). Rollout:
        ``B24SHIM_LEAD_DELETE_STAGE`` (default ``legacy``), ``B24SHIM_ITEM_PERCENT`` (default
        100), ``B24SHIM_KILL_SWITCH`` (``1/true/yes/on``). Transport: ``B24SHIM_TIMEOUT``
        (seconds), ``B24SHIM_RATE_LIMIT`` (``standard``, ``enterprise``, ``off`` or
        ``RATE/BURST``), ``B24SHIM_REDIS_URL`` (share the limits through this Redis; see
        docs/workers.md). Differences: ``B24SHIM_DIFFERENCE_LOG`` (a JSON-lines file every
        difference is appended to; see ``b24shim report``).

        Raises:
            ConfigError: at once, for any missing or bad value; never echoing a secret.
        """
        env = dict(os.environ if environ is None else environ)
        for message in unknown_variables(env):
            # A warning, not a log line: the caller's configuration is wrong and can be fixed.
            warnings.warn(message, B24ShimWarning, stacklevel=2)
        return cls(_credentials_from_env(env), **_settings_from_env(env))

    @property
    def stage(self) -> StageSource:
        """The configured stage or flag provider."""
        return self.policy.stage

    @property
    def item_percent(self) -> int:
        """The share of leads, 0..100, that take the item route at the item stages."""
        return self.policy.item_percent

    @property
    def legacy_not_found(self) -> str:
        """The ``legacy_not_found`` setting: ``"auto"``, ``"docs"`` or ``"core"``."""
        return self._not_found.setting

    @property
    def kill_switch(self) -> bool:
        """True when every delete goes through ``crm.lead.delete``."""
        return self.policy.kill_switch

    def __repr__(self) -> str:
        stage = self.stage.value if isinstance(self.stage, Stage) else "<flag provider>"
        return (
            f"LeadShim({self.transport.credentials!r}, stage={stage!r}, "
            f"item_percent={self.item_percent}, kill_switch={self.kill_switch})"
        )

    def stage_for(self, lead_id: object) -> Stage:
        """The stage that would apply to ``lead_id`` now (validating the id)."""
        return self.policy.stage_for(parse_lead_id(lead_id))

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
        plan = self._plan(parse_lead_id(lead_id))
        (result,) = self._execute([plan], self._send_one)
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
        chunker = Chunker()
        waiting: collections.deque[DeleteResult | Plan] = collections.deque()
        done: dict[int, DeleteResult] = {}
        stopped: ErrorInfo | None = None

        def run(chunk: list[Plan]) -> None:
            nonlocal stopped
            results = self._run_chunk(chunk)
            done.update(results)
            stopped = stopped or _job_stopping_error(results.values())
            if stopped is not None:
                for unsent in chunker.drain():
                    done.update((plan.index, self._not_sent(plan, stopped)) for plan in unsent)

        def ready() -> Iterator[DeleteResult]:
            while waiting:
                head = waiting[0]
                if isinstance(head, Plan):
                    if head.index not in done:
                        return
                    yield done.pop(head.index)
                else:
                    yield head
                waiting.popleft()

        for index, value in enumerate(ids):
            try:
                plan = self._plan(parse_lead_id(value), index)
            except InvalidLeadId as exc:
                waiting.append(self._rejected(value, exc))
                yield from ready()
                continue
            waiting.append(plan)
            if stopped is not None:
                done[plan.index] = self._not_sent(plan, stopped)
                yield from ready()
                continue
            full = chunker.add(plan)
            if full is not None:
                run(full)
                yield from ready()
        for full in chunker.drain():
            run(full)
        yield from ready()

    # -- planning and concluding ---------------------------------------------------------

    def _plan(self, lead_id: int, index: int = 0) -> Plan:
        """The stage of ``lead_id`` and the route that will delete it."""
        choice = self.policy.choose(lead_id)
        stage = choice.stage
        started = self.transport.clock.time()
        sampled = not stage.verified or verify_bucket_of(lead_id) < self.verify_percent
        if not stage.uses_item:
            return Plan(
                index,
                lead_id,
                stage,
                LEGACY,
                held_back=choice.held_back,
                sampled=sampled,
                started=started,
            )
        if self._item_known_missing():
            return Plan(
                index, lead_id, stage, LEGACY, fell_back=True, sampled=sampled, started=started
            )
        return Plan(index, lead_id, stage, ITEM, sampled=sampled, started=started)

    def _conclude(
        self,
        plan: Plan,
        reply: Reply,
        *,
        reads: VerificationReads | None = None,
        outcome: Outcome | None = None,
    ) -> DeleteResult:
        """Normalize the final answer for ``plan``; report its differences."""
        reply = plan.route.check_delete(reply)
        outcome = outcome or plan.route.outcome(reply)
        if plan.route is LEGACY:
            self._not_found.observe(reply.code, reply.raw, reply.http_status)
        found: list[Difference] = []
        if plan.fell_back:
            found.append(fallback_difference(plan.lead_id, plan.stage, plan.item_reply))
        if reads is not None and plan.verified:
            found += verification_differences(
                plan.lead_id, plan.stage, plan.route.route, reads, reply, outcome
            )
        if plan.route is ITEM and outcome is not Outcome.ALREADY_ABSENT:
            found += shape_differences(plan.lead_id, plan.stage, reply, self._not_found.form)
        result = DeleteResult(
            lead_id=plan.lead_id,
            outcome=outcome,
            stage=plan.stage,
            route=plan.route.route,
            error=None if outcome in (Outcome.DELETED, Outcome.ALREADY_ABSENT) else reply.error,
            time=reply.time,
            raw=reply.raw,
            differences=tuple(found),
            legacy_not_found=self._not_found.form,
        )
        self.reporter.report(found)
        self.reporter.deleted(
            result,
            verified=reads is not None and plan.verified,
            started=plan.started,
            finished=self.transport.clock.time(),
        )
        if plan.legacy_by_choice:
            _warn_legacy_once()
        return result

    def _rejected(self, value: object, exc: InvalidLeadId) -> DeleteResult:
        """The result for an input that is not a lead id (nothing was sent)."""
        source = self.policy.stage
        stage = Stage.LEGACY if self.kill_switch or not isinstance(source, Stage) else source
        number = value if isinstance(value, int) and not isinstance(value, bool) else 0
        return DeleteResult(
            lead_id=number,
            outcome=Outcome.FAILED,
            stage=stage,
            route=Route.ITEM if stage.uses_item else Route.LEGACY,
            error=ErrorInfo(ErrorCode.INVALID_ID, "", str(exc), None),
        )

    def _not_sent(self, plan: Plan, cause: ErrorInfo) -> DeleteResult:
        """The result for a delete the job did not send, because ``cause`` stopped it."""
        return DeleteResult(
            lead_id=plan.lead_id,
            outcome=Outcome.FAILED,
            stage=plan.stage,
            route=plan.route.route,
            error=ErrorInfo(
                cause.code,
                cause.raw_code,
                f"not sent: an earlier answer in this job showed {cause.code.value} "
                f"({cause.description or 'no description'}), so the job stopped sending",
                None,
            ),
        )

    # -- sending and retrying ------------------------------------------------------------

    def _execute(self, plans: list[Plan], send: _Sender) -> list[DeleteResult]:
        """Send ``plans`` until each has a final answer; retries as :mod:`b24shim.retry` says."""
        results: dict[int, DeleteResult] = {}
        safe_tries: dict[int, int] = collections.Counter()
        ambiguous_tries: dict[int, int] = collections.Counter()
        pending = plans
        while pending:
            answers = send(pending)
            again: list[Plan] = []
            wait = 0.0
            for plan in pending:
                reply, reads = answers[plan.index]
                reply = plan.route.check_delete(reply)
                index = plan.index
                if plan.route is ITEM and reply.code is ErrorCode.METHOD_NOT_FOUND:
                    self._remember_item_missing()
                    again.append(attrs.evolve(plan, route=LEGACY, fell_back=True, item_reply=reply))
                    continue
                ambiguous_before = ambiguous_tries[index] > 0
                if ambiguous_before and reply.code is ErrorCode.NOT_FOUND:
                    outcome: Outcome | None = Outcome.ALREADY_ABSENT
                elif reply.ok:
                    outcome = Outcome.DELETED
                elif RetryPolicy.is_safe(reply.code, ambiguous=reply.ambiguous):
                    safe_tries[index] += 1
                    if safe_tries[index] < self.retry.attempts:
                        again.append(plan)
                        wait = max(wait, self.retry.delay(safe_tries[index], self._rng))
                        continue
                    outcome = Outcome.UNKNOWN if ambiguous_before else Outcome.FAILED
                elif reply.ambiguous:
                    ambiguous_tries[index] += 1
                    if ambiguous_tries[index] < self.retry.ambiguous_attempts:
                        again.append(plan)
                        wait = max(wait, self.retry.delay(ambiguous_tries[index], self._rng))
                        continue
                    outcome = Outcome.UNKNOWN
                else:
                    # A definite refusal; after an ambiguous try it proves nothing either way.
                    outcome = Outcome.UNKNOWN if ambiguous_before else Outcome.FAILED
                results[index] = self._conclude(plan, reply, reads=reads, outcome=outcome)
            if again and wait > 0:
                logger.info("retrying %d delete(s) in %.2f s", len(again), wait)
                self.transport.clock.sleep(wait)
            pending = again
        return [results[plan.index] for plan in plans]

    def _send_one(self, plans: list[Plan]) -> dict[int, tuple[Reply, VerificationReads | None]]:
        """One delete: a direct call, or for a verified stage one batch of reads around it."""
        (plan,) = plans
        if not plan.verified:
            method, params = plan.route.delete(plan.lead_id)
            return {plan.index: (self.transport.call(method, params), None)}
        other = ITEM if plan.route is LEGACY else LEGACY
        # One request: batch runs its commands in order, so the reads before, the one
        # authoritative delete and the read after share a call.
        replies = self.transport.batch(
            {
                "lead_before": LEGACY.get(plan.lead_id),
                "item_before": ITEM.get(plan.lead_id),
                "delete": plan.route.delete(plan.lead_id),
                "other_after": other.get(plan.lead_id),
            }
        )
        reads = VerificationReads(
            legacy_before=Read.from_get(replies["lead_before"]),
            item_before=Read.from_get(replies["item_before"]),
            other_after=Read.from_get(replies["other_after"]),
        )
        return {plan.index: (replies["delete"], reads)}

    def _send_chunk(self, plans: list[Plan]) -> dict[int, tuple[Reply, VerificationReads | None]]:
        replies = self.transport.batch(batch_for(plans))
        reread = reread_for(plans, replies)
        # At most one extra request, only when a verified delete failed unexplained (bulk.py).
        again = self.transport.batch(reread.commands) if reread.commands else {}
        return split_answer(plans, replies, reread, again)

    def _run_chunk(self, plans: list[Plan]) -> dict[int, DeleteResult]:
        results = self._execute(plans, self._send_chunk)
        return {plan.index: result for plan, result in zip(plans, results, strict=True)}

    def _item_known_missing(self) -> bool:
        with self._item_missing_lock:
            if self._item_missing.get(self.transport.portal, False):
                return True
        return self.shared is not None and self.shared.item_api_missing(self.transport.portal)

    def _remember_item_missing(self) -> None:
        with self._item_missing_lock:
            self._item_missing[self.transport.portal] = True
        if self.shared is not None:
            self.shared.remember_item_api_missing(self.transport.portal, self._item_missing.ttl)


_Sender = Callable[[list[Plan]], dict[int, tuple[Reply, VerificationReads | None]]]


def _job_stopping_error(results: Iterable[DeleteResult]) -> ErrorInfo | None:
    """The first error among ``results`` that no later request could get past."""
    for result in results:
        if result.error is not None and result.error.code in JOB_STOPPING:
            return result.error
    return None


def _credentials_from_env(env: Mapping[str, str]) -> Credentials:
    webhook = env.get("B24SHIM_WEBHOOK_URL", "").strip()
    portal = env.get("B24SHIM_PORTAL_URL", "").strip()
    if webhook and portal:
        raise ConfigError(
            "B24SHIM_WEBHOOK_URL",
            "set either B24SHIM_WEBHOOK_URL or B24SHIM_PORTAL_URL + B24SHIM_ACCESS_TOKEN, not both",
        )
    if webhook:
        return Webhook(webhook, setting="B24SHIM_WEBHOOK_URL")
    if not portal:
        raise ConfigError(
            "B24SHIM_WEBHOOK_URL",
            "no portal configured: set B24SHIM_WEBHOOK_URL "
            "(https://<portal>/rest/<user_id>/<code>/), or B24SHIM_PORTAL_URL and "
            "B24SHIM_ACCESS_TOKEN",
        )
    token = env.get("B24SHIM_ACCESS_TOKEN", "").strip()
    if not token:
        raise ConfigError(
            "B24SHIM_ACCESS_TOKEN", "B24SHIM_PORTAL_URL is set, so B24SHIM_ACCESS_TOKEN must be"
        )
    try:
        return OAuth(
            portal,
            token,
            refresh_token=env.get("B24SHIM_REFRESH_TOKEN") or None,
            client_id=env.get("B24SHIM_CLIENT_ID") or None,
            client_secret=env.get("B24SHIM_CLIENT_SECRET") or None,
            token_url=env.get("B24SHIM_TOKEN_URL", "").strip() or DEFAULT_TOKEN_URL,
        )
    except ConfigError as exc:
        name = _OAUTH_VARIABLES.get(exc.setting, "B24SHIM_ACCESS_TOKEN")
        message = exc.message.replace(exc.setting, name)
        for setting, variable in _OAUTH_VARIABLES.items():
            message = message.replace(setting, variable)
        raise ConfigError(name, message) from None


# OAuth's setting names, as they are called in the environment.
_OAUTH_VARIABLES = {
    "portal url": "B24SHIM_PORTAL_URL",
    "token url": "B24SHIM_TOKEN_URL",
    "refresh_token": "B24SHIM_REFRESH_TOKEN",
    "client_id": "B24SHIM_CLIENT_ID",
    "client_secret": "B24SHIM_CLIENT_SECRET",
}


class _Settings(TypedDict, total=False):
    on_difference: DifferenceCallback
    stage: StageSource
    item_percent: int
    kill_switch: bool
    timeout: Timeout
    rate_limit: RateLimit | None
    verify_percent: int
    legacy_not_found: str
    shared: SharedLimits


def _settings_from_env(env: Mapping[str, str]) -> _Settings:
    settings: _Settings = {
        "stage": parse_stage(
            env.get("B24SHIM_LEAD_DELETE_STAGE") or "legacy", setting="B24SHIM_LEAD_DELETE_STAGE"
        )
    }
    if env.get(DIFFERENCE_LOG_VARIABLE, "").strip():
        settings["on_difference"] = JsonlDifferenceSink(environ=env)
    settings["item_percent"] = env_percent(env.get("B24SHIM_ITEM_PERCENT", ""))
    settings["kill_switch"] = env_switch(env.get("B24SHIM_KILL_SWITCH", ""))
    timeout = env.get("B24SHIM_TIMEOUT", "").strip()
    if timeout:
        try:
            seconds = float(timeout)
        except ValueError:
            seconds = -1.0
        if not 0 < seconds < 3600:
            raise ConfigError(
                "B24SHIM_TIMEOUT",
                "B24SHIM_TIMEOUT must be a number of seconds greater than 0 and less than 3600, "
                f"got {timeout[:20]!r}",
            )
        settings["timeout"] = seconds
    if env.get("B24SHIM_VERIFY_PERCENT", "").strip():
        settings["verify_percent"] = env_percent(
            env["B24SHIM_VERIFY_PERCENT"], "B24SHIM_VERIFY_PERCENT"
        )
    if env.get("B24SHIM_LEGACY_NOT_FOUND", "").strip():
        settings["legacy_not_found"] = LegacyNotFound(
            env["B24SHIM_LEGACY_NOT_FOUND"], name="B24SHIM_LEGACY_NOT_FOUND"
        ).setting
    if "B24SHIM_RATE_LIMIT" in env:
        settings["rate_limit"] = RateLimit.parse(
            env["B24SHIM_RATE_LIMIT"], setting="B24SHIM_RATE_LIMIT"
        )
    redis_url = env.get(REDIS_URL_VARIABLE, "").strip()
    if redis_url:
        settings["shared"] = RedisLimits(redis_url, setting=REDIS_URL_VARIABLE)
    return settings


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
    global _default_shim, _legacy_warned  # noqa: PLW0603
    with _default_lock:
        _default_shim = None
    with _legacy_warned_lock:
        _legacy_warned = False
