"""The engine: every decision of a lead delete, and no I/O (sans-I/O, as h11 is for HTTP).

The engine turns a lead id into a :class:`~b24shim._plan.Plan` (its stage, its route, whether
the checks of a verified stage run for it), a plan into the requests to make, the portal's
replies into a retry, a wait of N seconds, or a :class:`~b24shim.DeleteResult` with its
differences and its evidence record. It never sleeps, sends or locks a socket; its clock is
passed in. Each front end (``LeadShim`` on requests, ``ShimAdapter``) is a short loop around
it::

    deletes = engine.delete(engine.plan(lead_id))
    while (step := deletes.next_step()) is not None:
        if isinstance(step, Wait):
            sleep(step.seconds)  # time.sleep, asyncio.sleep, ...
        else:
            deletes.receive(send(step.request))  # replies, one per command key
    (result,) = deletes.results.values()

A front end that reads the raw answer itself hands it over as it came:
``deletes.receive_response(status, content)``. A bulk job is a :class:`Job`: inputs in, chunks
of plans out to run as above, results back in input order.
"""

from __future__ import annotations

import collections
import logging
import random
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Union

import attrs
import cachetools

from b24shim._envelope import Reply, parse_batch, parse_response
from b24shim._not_found import LegacyNotFound
from b24shim._plan import Plan
from b24shim.bulk import Chunker, Reread, batch_for, reread_for, split_answer
from b24shim.codes import JOB_STOPPING, ErrorCode
from b24shim.credentials import Credentials, OAuth, Webhook
from b24shim.differences import (
    DifferenceCallback,
    DifferenceReporter,
    VerificationReads,
    fallback_difference,
    shape_differences,
    verification_differences,
)
from b24shim.errors import ConfigError, InvalidLeadId, LegacyRouteWarning
from b24shim.flags import Stage, StagePolicy, StageSource, verify_bucket_of
from b24shim.ids import parse_lead_id
from b24shim.limits import SharedLimits
from b24shim.result import DeleteResult, Difference, ErrorInfo, Outcome, Route
from b24shim.retry import RetryPolicy
from b24shim.routes import ITEM, LEGACY, Read
from b24shim.transport import Command

__all__ = [
    "DEFAULT_FALLBACK_TTL",
    "Deletes",
    "Engine",
    "Job",
    "Request",
    "Send",
    "Step",
    "Wait",
    "check_shared",
    "credentials_of",
    "forget_legacy_warning",
]

logger = logging.getLogger(__name__)

#: Seconds a portal without crm.item.* is remembered as such.
DEFAULT_FALLBACK_TTL = 600.0

_DELETE_KEY = "delete"
# Looked up once: an enum member read from its class costs more than the test using it, and
# a bulk job tests each delete's outcome several times.
_DELETED, _ALREADY_ABSENT = Outcome.DELETED, Outcome.ALREADY_ABSENT


# -- what the engine asks a front end to do ---------------------------------------------------


@attrs.frozen
class Request:
    """One HTTP request to make: a single method call, or a ``batch`` of commands.

    Attributes:
        commands: command key -> ``(method, params)``; exactly one when ``batch`` is false.
        batch: send the commands as one ``batch`` call (run in order by the portal).
    """

    commands: Mapping[str, Command]
    batch: bool

    def read(self, status: int, content: bytes) -> dict[str, Reply]:
        """The replies, one per command key, in the raw HTTP answer to this request."""
        envelope = parse_response(status, content)
        if self.batch:
            return parse_batch(envelope, list(self.commands))
        return dict.fromkeys(self.commands, envelope)


@attrs.frozen
class Send:
    """Send :attr:`request` and hand its replies to :meth:`Deletes.receive`."""

    request: Request


@attrs.frozen
class Wait:
    """Wait :attr:`seconds` (a retry's back-off) before asking for the next step."""

    seconds: float


Step = Union[Send, Wait]  # noqa: UP007 - a runtime alias, and Python 3.10 is supported


# -- the legacy route's deprecation warning ---------------------------------------------------

_legacy_warned = False
_legacy_warned_lock = threading.Lock()
_LIBRARY_PACKAGES = frozenset({"b24shim", "requests", "urllib3", "aiohttp", "httpx", "httpcore"})


def _user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside b24shim."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None:
        name = str(frame.f_globals.get("__name__", ""))
        # HTTP library frames too: through a drop-in, the user's call is below them.
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


def forget_legacy_warning() -> None:
    """Let the legacy route warn again, as in a new process (for tests)."""
    global _legacy_warned  # noqa: PLW0603
    with _legacy_warned_lock:
        _legacy_warned = False


# -- settings every facade checks the same way -----------------------------------------------


def credentials_of(value: object) -> Credentials:
    """``value`` as credentials: a Webhook, an OAuth, or a webhook URL string.

    Raises:
        ConfigError: for anything else.
    """
    if isinstance(value, str):
        value = Webhook(value)
    if not isinstance(value, (Webhook, OAuth)):
        raise ConfigError(
            "credentials",
            f"credentials must be a Webhook, an OAuth or a webhook URL, got {type(value).__name__}",
        )
    return value


def check_shared(shared: object) -> None:
    """Refuse a ``shared=`` that is not shared limits (such as ``RedisLimits``)."""
    if shared is not None and not callable(getattr(shared, "bucket", None)):
        raise ConfigError(
            "shared", f"shared must be a RedisLimits or None, got {type(shared).__name__}"
        )


# -- the engine -------------------------------------------------------------------------------


class Engine:
    """Decides every lead delete of one portal; shared by all the front ends of a facade.

    Thread-safe: its only mutable state (the memory of a portal without ``crm.item.*``, the
    learnt legacy not-found form) is guarded or replaced atomically. It reads the time from
    ``now`` and does nothing else with the outside world, except logging and the reporter's
    callbacks.

    Args:
        policy: which stage applies to a lead.
        portal: ``scheme://host[:port]`` of the portal (the key of the fallback memory).
        now: the clock, in Unix seconds.
        verify_percent: the share of deletes at a verified stage that get the checks.
        legacy_not_found: the portal's legacy not-found form, set or learnt.
        retry: when and how patiently to retry.
        reporter: where differences and evidence records go.
        fallback_ttl: seconds a portal without ``crm.item.*`` is remembered as such.
        shared: limits shared with other processes, which also remember a missing item API.
    """

    def __init__(
        self,
        policy: StagePolicy,
        *,
        portal: str,
        now: Callable[[], float],
        verify_percent: int = 100,
        legacy_not_found: LegacyNotFound | None = None,
        retry: RetryPolicy | None = None,
        reporter: DifferenceReporter | None = None,
        fallback_ttl: float = DEFAULT_FALLBACK_TTL,
        shared: SharedLimits | None = None,
    ) -> None:
        self.policy = policy
        self.portal = portal
        self.now = now
        self.verify_percent = verify_percent
        self.not_found = legacy_not_found if legacy_not_found is not None else LegacyNotFound()
        self.retry = retry if retry is not None else RetryPolicy()
        self.reporter = reporter if reporter is not None else DifferenceReporter()
        self.shared = shared
        #: The portals found lacking ``crm.item.*``, forgotten after ``fallback_ttl``.
        self.item_missing: cachetools.TTLCache[str, bool] = cachetools.TTLCache(
            maxsize=64, ttl=fallback_ttl, timer=now
        )
        self._item_missing_lock = threading.Lock()
        self._item_missing_seen = False  # set for good once the memory held an entry
        self.rng = random.Random()

    @classmethod
    def configure(
        cls,
        *,
        portal: str,
        now: Callable[[], float],
        stage: StageSource = Stage.LEGACY,
        item_percent: int = 100,
        kill_switch: bool = False,
        on_difference: DifferenceCallback | None = None,
        retry: RetryPolicy | None = None,
        fallback_ttl: float = DEFAULT_FALLBACK_TTL,
        verify_percent: int = 100,
        legacy_not_found: str = "auto",
        shared: SharedLimits | None = None,
    ) -> Engine:
        """An engine from a facade's settings, checked as ``LeadShim`` documents them.

        Raises:
            ConfigError: a bad setting, naming it and the allowed values.
        """
        if not isinstance(kill_switch, bool):
            raise ConfigError("kill_switch", f"kill_switch must be a bool, got {kill_switch!r}")
        policy = StagePolicy(stage, item_percent, kill_switch)
        if (
            isinstance(verify_percent, bool)
            or not isinstance(verify_percent, int)
            or not 0 <= verify_percent <= 100
        ):
            raise ConfigError(
                "verify_percent",
                f"verify_percent must be an integer 0..100, got {verify_percent!r}",
            )
        return cls(
            policy,
            portal=portal,
            now=now,
            verify_percent=verify_percent,
            legacy_not_found=LegacyNotFound(legacy_not_found),
            retry=retry,
            reporter=DifferenceReporter(on_difference),
            fallback_ttl=fallback_ttl,
            shared=shared,
        )

    # -- planning ----------------------------------------------------------------------------

    def plan(self, lead_id: int, index: int = 0) -> Plan:
        """The stage of the (validated) ``lead_id`` and the route that will delete it."""
        choice = self.policy.choose(lead_id)
        stage = choice.stage
        started = self.now()
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
        if self.item_known_missing():
            return Plan(
                index, lead_id, stage, LEGACY, fell_back=True, sampled=sampled, started=started
            )
        # Positional (fell_back, item_reply, held_back, sampled, started): every item delete.
        return Plan(index, lead_id, stage, ITEM, False, None, False, sampled, started)

    def delete(self, plan: Plan) -> Deletes:
        """The exchange for one delete: a direct call, or one batch of reads around it."""
        return Deletes(self, [plan], chunk=False)

    def chunk(self, plans: list[Plan]) -> Deletes:
        """The exchange for one chunk of a bulk job: one batch (and maybe one of re-reads)."""
        return Deletes(self, plans, chunk=True)

    def job(self) -> Job:
        """A bulk delete: inputs in, chunks out, results in input order."""
        return Job(self)

    # -- concluding --------------------------------------------------------------------------

    def conclude(
        self,
        plan: Plan,
        reply: Reply,
        *,
        reads: VerificationReads | None = None,
        outcome: Outcome | None = None,
    ) -> DeleteResult:
        """Normalize the final answer for ``plan``; report its differences and evidence."""
        reply = plan.route.check_delete(reply)
        return self._concluded(plan, reply, reads, outcome or plan.route.outcome(reply))

    def _concluded(
        self, plan: Plan, reply: Reply, reads: VerificationReads | None, outcome: Outcome
    ) -> DeleteResult:
        """:meth:`conclude` for a reply already checked by ``plan.route.check_delete``."""
        route = plan.route
        not_found = self.not_found
        if route is LEGACY:
            not_found.observe(reply.code, reply.raw, reply.http_status)
        form = not_found.form
        verified = reads is not None and plan.verified
        found: list[Difference] = []
        if plan.fell_back:
            found.append(fallback_difference(plan.lead_id, plan.stage, plan.item_reply))
        if reads is not None and verified:
            found += verification_differences(
                plan.lead_id, plan.stage, route.route, reads, reply, outcome
            )
        if route is ITEM and outcome is not _ALREADY_ABSENT:
            found += shape_differences(plan.lead_id, plan.stage, reply, form)
        gone = outcome is _DELETED or outcome is _ALREADY_ABSENT
        # Positional (in field order), with ok and method given, not derived: one result per
        # delete of a bulk job. The validators still check both.
        result = DeleteResult(
            plan.lead_id,
            outcome,
            plan.stage,
            route.route,
            None if gone else reply.error,
            reply.time,
            reply.raw,
            tuple(found),
            ok=gone,
            method=route.delete_method,
            legacy_not_found=form,
        )
        self.reporter.concluded(
            result, verified=verified, started=plan.started, finished=self.now()
        )
        # Only the legacy route can be legacy by choice (an item stage never is).
        if route is LEGACY and plan.legacy_by_choice:
            _warn_legacy_once()
        return result

    def passed_through(self, plan: Plan, status: int, content: bytes) -> DeleteResult:
        """Conclude a legacy delete whose raw answer went to the caller unchanged."""
        return self.conclude(plan, parse_response(status, content))

    def rejected(self, value: object, exc: InvalidLeadId) -> DeleteResult:
        """The result for an input that is not a lead id (nothing was sent)."""
        source = self.policy.stage
        kill = self.policy.kill_switch
        stage = Stage.LEGACY if kill or not isinstance(source, Stage) else source
        number = value if isinstance(value, int) and not isinstance(value, bool) else 0
        return DeleteResult(
            lead_id=number,
            outcome=Outcome.FAILED,
            stage=stage,
            route=Route.ITEM if stage.uses_item else Route.LEGACY,
            error=ErrorInfo(ErrorCode.INVALID_ID, "", str(exc), None),
        )

    @staticmethod
    def not_sent(plan: Plan, cause: ErrorInfo) -> DeleteResult:
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

    # -- the memory of a portal without crm.item.* -------------------------------------------

    def item_known_missing(self) -> bool:
        """Whether this portal is remembered (here or in the shared limits) as lacking it."""
        # Asked for every delete of a bulk job: while nothing was ever remembered here (the
        # usual case), neither the lock nor the TTL look-up is needed.
        if self._item_missing_seen:
            with self._item_missing_lock:
                if self.item_missing.get(self.portal, False):
                    return True
        return self.shared is not None and self.shared.item_api_missing(self.portal)

    def remember_item_missing(self) -> None:
        """Remember that this portal lacks ``crm.item.*``, for the fallback TTL."""
        with self._item_missing_lock:
            self._item_missing_seen = True
            self.item_missing[self.portal] = True
        if self.shared is not None:
            self.shared.remember_item_api_missing(self.portal, self.item_missing.ttl)


class Deletes:
    """The exchange for one delete or one chunk, until each plan has its result.

    Ask :meth:`next_step`; a :class:`Send` is answered with :meth:`receive` (or
    :meth:`receive_response`), a :class:`Wait` by waiting; ``None`` means done, and
    :attr:`results` holds one result per plan.
    """

    def __init__(self, engine: Engine, plans: list[Plan], *, chunk: bool) -> None:
        self._engine = engine
        self._plans = plans
        self._chunk = chunk
        self._pending = plans
        # Tries so far by plan index (plain dicts: a Counter's __missing__ is a Python call).
        self._safe_tries: dict[int, int] = {}
        self._ambiguous_tries: dict[int, int] = {}
        self._results: dict[int, DeleteResult] = {}
        self._wait = 0.0
        self._request: Request | None = None
        # A chunk whose failed verified deletes need gets: its first replies, kept meanwhile.
        self._first: tuple[dict[str, Reply], Reread] | None = None

    @property
    def done(self) -> bool:
        """True when every plan has its result."""
        return not self._pending

    @property
    def results(self) -> dict[int, DeleteResult]:
        """The results so far, by plan index, in plan order once done."""
        return {p.index: self._results[p.index] for p in self._plans if p.index in self._results}

    def next_step(self) -> Step | None:
        """What to do next: send a request, wait, or nothing (done)."""
        if not self._pending:
            return None
        if self._wait > 0:
            wait, self._wait = self._wait, 0.0
            return Wait(wait)
        if self._first is not None:
            self._request = Request(self._first[1].commands, batch=True)
        elif self._chunk:
            self._request = Request(batch_for(self._pending), batch=True)
        else:
            self._request = _single_request(self._pending[0])
        return Send(self._request)

    def give_up(self, reply: Reply) -> None:
        """Conclude every pending plan with ``reply``, tried no more.

        For a front end whose request got no answer and whose caller takes the failure as it
        is (a drop-in raises its library's exception): ``reply`` says why, and the results say
        ``unknown`` when it is ambiguous (the delete may have run), else ``failed``.
        """
        outcome = Outcome.UNKNOWN if reply.ambiguous else Outcome.FAILED
        for plan in self._pending:
            self._results[plan.index] = self._engine.conclude(plan, reply, outcome=outcome)
        self._pending = []
        self._first = None
        self._wait = 0.0

    def receive_response(self, status: int, content: bytes) -> None:
        """Hand over the raw HTTP answer to the last :class:`Send`."""
        if self._request is None:
            raise RuntimeError("receive_response() before a Send step")
        self.receive(self._request.read(status, content))

    def receive(self, replies: Mapping[str, Reply]) -> None:
        """Hand over the replies to the last :class:`Send`, one per command key."""
        pending = self._pending
        if self._first is not None:
            first, reread = self._first
            self._first = None
            self._settle(split_answer(pending, first, reread, dict(replies)))
        elif self._chunk:
            answer = dict(replies)
            reread = reread_for(pending, answer)
            if reread.commands:
                # At most one extra request, only when a verified delete failed unexplained.
                self._first = (answer, reread)
                return
            self._settle(split_answer(pending, answer, reread, {}))
        else:
            (plan,) = pending
            self._settle({plan.index: _single_answer(plan, replies)})

    def _settle(self, answers: Mapping[int, tuple[Reply, VerificationReads | None]]) -> None:
        """Conclude what is final; keep the rest for a retry (as :mod:`b24shim.retry` says)."""
        engine = self._engine
        retry = engine.retry
        again: list[Plan] = []
        wait = 0.0
        for plan in self._pending:
            reply, reads = answers[plan.index]
            reply = plan.route.check_delete(reply)
            index = plan.index
            error = reply.error
            if (
                error is not None
                and error.code is ErrorCode.METHOD_NOT_FOUND
                and plan.route is ITEM
            ):
                engine.remember_item_missing()
                again.append(attrs.evolve(plan, route=LEGACY, fell_back=True, item_reply=reply))
                continue
            ambiguous_before = self._ambiguous_tries.get(index, 0) > 0
            if error is None:
                outcome: Outcome = _DELETED
            elif ambiguous_before and error.code is ErrorCode.NOT_FOUND:
                outcome = Outcome.ALREADY_ABSENT
            elif RetryPolicy.is_safe(reply.code, ambiguous=reply.ambiguous):
                tries = self._safe_tries[index] = self._safe_tries.get(index, 0) + 1
                if tries < retry.attempts:
                    again.append(plan)
                    wait = max(wait, retry.delay(tries, engine.rng))
                    continue
                outcome = Outcome.UNKNOWN if ambiguous_before else Outcome.FAILED
            elif reply.ambiguous:
                tries = self._ambiguous_tries[index] = self._ambiguous_tries.get(index, 0) + 1
                if tries < retry.ambiguous_attempts:
                    again.append(plan)
                    wait = max(wait, retry.delay(tries, engine.rng))
                    continue
                outcome = Outcome.UNKNOWN
            else:
                # A definite refusal; after an ambiguous try it proves nothing either way.
                outcome = Outcome.UNKNOWN if ambiguous_before else Outcome.FAILED
            # The reply was checked above: conclude without checking it again.
            self._results[index] = engine._concluded(plan, reply, reads, outcome)
        if again and wait > 0:
            logger.info("retrying %d delete(s) in %.2f s", len(again), wait)
        self._pending = again
        self._wait = wait if again else 0.0


def _single_request(plan: Plan) -> Request:
    if not plan.verified:
        return Request({_DELETE_KEY: plan.route.delete(plan.lead_id)}, batch=False)
    other = ITEM if plan.route is LEGACY else LEGACY
    # One request: batch runs its commands in order, so the reads before, the one
    # authoritative delete and the read after share a call.
    return Request(
        {
            "lead_before": LEGACY.get(plan.lead_id),
            "item_before": ITEM.get(plan.lead_id),
            _DELETE_KEY: plan.route.delete(plan.lead_id),
            "other_after": other.get(plan.lead_id),
        },
        batch=True,
    )


def _single_answer(
    plan: Plan, replies: Mapping[str, Reply]
) -> tuple[Reply, VerificationReads | None]:
    if not plan.verified:
        return replies[_DELETE_KEY], None
    reads = VerificationReads(
        legacy_before=Read.from_get(replies["lead_before"]),
        item_before=Read.from_get(replies["item_before"]),
        other_after=Read.from_get(replies["other_after"]),
    )
    return replies[_DELETE_KEY], reads


class Job:
    """A bulk delete in progress: inputs in, chunks of plans out, results in input order.

    Feed each input to :meth:`add`; it returns a full chunk when one is ready to run (run it
    through :meth:`Engine.chunk` and hand the results to :meth:`finished`); :meth:`finish`
    gives the last chunk. :meth:`ready` gives the results that are next in input order. An
    answer with a code in :data:`~b24shim.codes.JOB_STOPPING` stops the job: the chunks not
    yet sent, and every later input, get a ``FAILED`` result marked as not sent.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._chunker = Chunker()
        self._waiting: collections.deque[DeleteResult | Plan] = collections.deque()
        self._done: dict[int, DeleteResult] = {}
        self._count = 0
        #: The error that stopped the job, once one did.
        self.stopped: ErrorInfo | None = None
        #: False when :meth:`ready` certainly has nothing: no result came in since it was last
        #: asked. A loop that adds every input may skip the call then (most inputs of a bulk
        #: job only join a chunk).
        self.maybe_ready = False

    def add(self, value: object) -> list[Plan] | None:
        """Take the next input; returns a full chunk to run now, when there is one."""
        index, self._count = self._count, self._count + 1
        try:
            plan = self._engine.plan(parse_lead_id(value), index)
        except InvalidLeadId as exc:
            self._waiting.append(self._engine.rejected(value, exc))
            self.maybe_ready = True
            return None
        self._waiting.append(plan)
        if self.stopped is not None:
            self._done[index] = self._engine.not_sent(plan, self.stopped)
            self.maybe_ready = True
            return None
        return self._chunker.add(plan)

    def finish(self) -> list[Plan] | None:
        """The last, partial chunk, once every input was added (None when there is none)."""
        return next(self._chunker.drain(), None)

    def finished(self, results: Mapping[int, DeleteResult]) -> None:
        """Take a chunk's results (by plan index); stop the job if one says so."""
        self._done.update(results)
        self.maybe_ready = True
        self.stopped = self.stopped or _job_stopping_error(results.values())
        if self.stopped is not None:
            for unsent in self._chunker.drain():
                self._done.update(
                    (plan.index, self._engine.not_sent(plan, self.stopped)) for plan in unsent
                )

    def ready(self) -> Sequence[DeleteResult]:
        """The results next in input order that are known now, taken out of the job."""
        self.maybe_ready = False
        waiting, done = self._waiting, self._done
        if not waiting:
            return ()
        head = waiting[0]
        if type(head) is Plan and head.index not in done:
            return ()  # asked after every input of a bulk job: most often, nothing yet
        ready: list[DeleteResult] = []
        while waiting:
            head = waiting[0]
            if isinstance(head, Plan):
                if head.index not in done:
                    break
                ready.append(done.pop(head.index))
            else:
                ready.append(head)
            waiting.popleft()
        return ready


def _job_stopping_error(results: Iterable[DeleteResult]) -> ErrorInfo | None:
    """The first error among ``results`` that no later request could get past."""
    for result in results:
        if result.error is not None and result.error.code in JOB_STOPPING:
            return result.error
    return None
