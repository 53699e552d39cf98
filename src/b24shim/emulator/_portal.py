"""The portal itself: one HTTP request in, one reply out, with no sockets involved.

Order of work for a request to `/rest/` (each step can end it):

1. the fault decision (a "503" fault answers here);
2. the leaky bucket (503 `QUERY_LIMIT_EXCEEDED`; the method does not run);
3. a "500"/"reset" fault whose coin says the method does not run answers here;
4. authentication (webhook path or OAuth token; 401 errors);
5. the method lookup (404 `ERROR_METHOD_NOT_FOUND`);
6. the operating-time limit per (auth entity, method) (429 `OPERATION_TIME_LIMIT`);
7. the method, timed on the portal clock plus its simulated `processing_time`;
8. the envelope, then any remaining fault ("500", "reset", "slow", "garbage") replaces or
   delays it.

Decisions where the spec is silent: only successful calls are recorded against the operating
limit (`LoadLimiter::registerEnding` follows the call, so a throwing method is not counted);
`operating` is reported after the current call is recorded; the `batch` method itself reports
`operating: 0` (it is exempt); a method that raises unexpectedly answers 500
`INTERNAL_SERVER_ERROR`.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping
from typing import Any

import attrs

from b24shim._php import to_bool, to_int

from ._auth import AuthContext, AuthRegistry, TokenError
from ._batch import MAX_ANSWER_BYTES, AnswerTooLarge, run_batch
from ._clock import Clock, iso_date
from ._context import CallContext, CallOutcome, Page
from ._errors import RestError
from ._faults import FaultDecision, FaultInjector
from ._journal import DEFAULT_JOURNAL_SIZE, Journal, RequestRecord
from ._limits import WINDOW, LeakyBucket, OperatingLimiter, OperatingStatus
from ._methods import BATCH, lookup, normalize_method
from ._request import AUTH_KEYS, HttpRequest, RestRoute, bearer_token, read_params, split_rest_path
from ._settings import PortalSettings
from ._store import Store

__all__ = ["JOURNAL_PATH", "JSON_TYPE", "Portal", "Reply", "RequestTimer", "encode", "time_block"]

logger = logging.getLogger("b24shim.emulator")

JSON_TYPE = "application/json; charset=utf-8"
JOURNAL_PATH = "/_emulator/journal"
_HTML_TYPE = "text/html; charset=utf-8"
_NOT_FOUND_PAGE = b"<html><head><title>404 Not Found</title></head><body>Not Found</body></html>"
_PROXY_PAGE = (
    b"<html><head><title>502 Bad Gateway</title></head>"
    b"<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)
_INTERNAL = {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal server error"}
_INTERNAL_ERROR = RestError("Internal server error", "INTERNAL_SERVER_ERROR", 500)
_TOO_MANY = RestError("Too many requests", "QUERY_LIMIT_EXCEEDED", 503)
_NAVIGATION = ("start", "state")


@attrs.frozen
class Reply:
    """What to send back.

    Attributes:
        status: HTTP status.
        body: The body bytes.
        content_type: The Content-Type header.
        reset: Send nothing and reset the connection instead.
        delay: Real seconds to wait before sending.
    """

    status: int
    body: bytes
    content_type: str = JSON_TYPE
    reset: bool = False
    delay: float = 0.0


def encode(body: object) -> bytes:
    """Serialize a JSON body compactly, UTF-8."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _json_reply(status: int, body: object) -> Reply:
    return Reply(status, encode(body))


def _seconds(value: float) -> float | int:
    return 0 if value == 0 else round(value, 6)


def time_block(start: float, finish: float, status: OperatingStatus) -> dict[str, Any]:
    """The envelope's `time` block (spec 1.2)."""
    block: dict[str, Any] = {
        "start": round(start, 6),
        "finish": round(finish, 6),
        "duration": _seconds(finish - start),
        "processing": _seconds(finish - start),
        "date_start": iso_date(start),
        "date_finish": iso_date(finish),
    }
    # Real answers carry operating_reset_at always: with nothing counted yet it is the end of
    # a window opened now (a recorded batch answer: start 1739205151.75, operating 0,
    # operating_reset_at 1739205751).
    reset_at = status.reset_at if status.reset_at is not None else int(start) + int(WINDOW)
    block["operating_reset_at"] = reset_at
    block["operating"] = _seconds(status.operating)
    return block


class RequestTimer:
    """Portal time within one request: the clock plus simulated processing spent so far."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._spent = 0.0

    def now(self) -> float:
        """The clock's time plus the simulated seconds spent so far."""
        return self._clock.time() + self._spent

    def spend(self, seconds: float) -> None:
        """Account simulated handler seconds (never slept)."""
        self._spent += seconds


class Portal:
    """The emulated portal's state and request handling; safe to call from many threads."""

    def __init__(
        self, settings: PortalSettings, clock: Clock, journal_size: int = DEFAULT_JOURNAL_SIZE
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.store = Store()
        self.auth = AuthRegistry()
        self.journal = Journal(journal_size)
        self.bucket = LeakyBucket()
        self.operating = OperatingLimiter()
        self.faults = FaultInjector()

    def handle(self, request: HttpRequest) -> Reply:
        """Answer one HTTP request."""
        path = request.path
        if path.rstrip("/") == "/oauth/token":
            return self._token(request)
        if path.rstrip("/") == JOURNAL_PATH:
            return self._journal(request)
        if path == "/rest" or path.startswith("/rest/"):
            return self._rest(request)
        return Reply(404, _NOT_FOUND_PAGE, _HTML_TYPE)

    # -- OAuth token endpoint ------------------------------------------------------------

    def _token(self, request: HttpRequest) -> Reply:
        params = read_params(request)
        try:
            access, refresh, grant = self.auth.refresh(params, self.clock.time())
        except TokenError as exc:
            logger.info("token refresh refused: %s", exc.error)
            body = {"error": exc.error, "error_description": exc.description}
            return _json_reply(exc.status, body)
        host = request.headers.get("host", "127.0.0.1")
        logger.info("token refreshed for user %s", grant.user_id)
        return _json_reply(
            200,
            {
                "access_token": access,
                "expires_in": int(grant.lifetime),
                "scope": "crm",
                "domain": "oauth.bitrix.info",
                "server_endpoint": "https://oauth.bitrix.info/rest/",
                "status": "L",
                "client_endpoint": f"{'https' if request.https else 'http'}://{host}/rest/",
                "member_id": self.auth.member_id,
                "user_id": grant.user_id,
                "refresh_token": refresh,
            },
        )

    # -- the journal, for tools outside the process ---------------------------------------

    def _journal(self, request: HttpRequest) -> Reply:
        """`GET /_emulator/journal?code=<admin webhook code>[&clear=1]`: the request journal.

        The admin webhook's code is asked for, so that reading what clients sent takes the
        same secret as sending it. Not a REST method: not journaled, not limited, not faulted.
        """
        params = read_params(request)
        code = params.get("code")
        expected = self.auth.webhook_codes[1]
        if not isinstance(code, str) or not secrets.compare_digest(code, expected):
            body = {"error": "INVALID_CREDENTIALS", "error_description": "Invalid journal code"}
            return _json_reply(401, body)
        records, dropped = self.journal.snapshot(clear=to_bool(params.get("clear")))
        return _json_reply(
            200,
            {
                "records": [attrs.asdict(record) for record in records],
                "dropped": dropped,
                "limit": self.journal.limit,
            },
        )

    # -- REST ----------------------------------------------------------------------------

    def _rest(self, request: HttpRequest) -> Reply:
        arrival = self.clock.time()
        settings = self.settings
        route = split_rest_path(request.path)
        method = normalize_method(route.method)
        params = read_params(request)
        user_id: int | None = None
        fault = self.faults.decide(settings.faults)
        if fault is not None and fault.kind == "503":
            reply = _json_reply(_TOO_MANY.status, _TOO_MANY.body())
        elif not self.bucket.try_acquire(arrival, settings.rate, settings.burst):
            fault = None
            reply = _json_reply(_TOO_MANY.status, _TOO_MANY.body())
        elif fault is not None and not fault.runs_method:
            reply = self._fault_reply(fault, None)
        else:
            status, body, user_id = self._call(request, route, method, params)
            reply = _json_reply(status, body)
            if fault is not None:
                reply = self._fault_reply(fault, reply)
        recorded = {key: value for key, value in params.items() if key not in AUTH_KEYS}
        status_sent = 0 if reply.reset else reply.status
        self.journal.append(
            RequestRecord(
                request.method,
                method,
                recorded,
                status_sent,
                user_id,
                fault.kind if fault is not None else None,
                arrival,
            )
        )
        logger.debug(
            "%s %s -> %s (user %s, fault %s)",
            request.method,
            method,
            status_sent,
            user_id,
            fault.kind if fault is not None else None,
        )
        return reply

    @staticmethod
    def _fault_reply(fault: FaultDecision, reply: Reply | None) -> Reply:
        if fault.kind == "500":
            return _json_reply(500, _INTERNAL)
        if fault.kind == "reset":
            return Reply(0, b"", reset=True)
        assert reply is not None  # "slow" and "garbage" always run the method
        if fault.kind == "slow":
            return attrs.evolve(reply, delay=fault.delay)
        if fault.html:
            return Reply(200, _PROXY_PAGE, _HTML_TYPE)
        return Reply(200, reply.body[: max(1, len(reply.body) // 2)])

    def _authenticate(
        self, request: HttpRequest, route: RestRoute, params: Mapping[str, Any]
    ) -> AuthContext:
        if route.webhook is not None:
            user, code = route.webhook
            https_ok = request.https or not self.settings.require_https
            return self.auth.webhook(int(user), code, https_ok=https_ok)
        token: str | None = None
        for key in AUTH_KEYS:
            value = params.get(key)
            if isinstance(value, str) and value:
                token = value
                break
        return self.auth.token(token or bearer_token(request), self.clock.time())

    def _call(
        self, request: HttpRequest, route: RestRoute, method: str, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any], int | None]:
        try:
            auth = self._authenticate(request, route, params)
        except RestError as exc:
            return exc.status, exc.body(), None
        params = {key: value for key, value in params.items() if key not in AUTH_KEYS}
        timer = RequestTimer(self.clock)
        if method == BATCH:
            start = timer.now()
            try:
                result = run_batch(
                    params, lambda name, command: self.invoke(auth, name, command, timer)
                )
            except AnswerTooLarge:
                logger.warning("batch answer over %d bytes refused", MAX_ANSWER_BYTES)
                return _INTERNAL_ERROR.status, _INTERNAL_ERROR.body(), auth.user_id
            block = time_block(start, timer.now(), OperatingStatus(0.0, None))
            return 200, {"result": result, "time": block}, auth.user_id
        outcome = self.invoke(auth, method, params, timer)
        if outcome.error is not None:
            return outcome.error.status, outcome.error.body(), auth.user_id
        body: dict[str, Any] = {"result": outcome.result}
        if outcome.next is not None:
            body["next"] = outcome.next
        if outcome.total is not None:
            body["total"] = outcome.total
        body["time"] = outcome.time
        return 200, body, auth.user_id

    def invoke(
        self, auth: AuthContext, method: str, params: Mapping[str, Any], timer: RequestTimer
    ) -> CallOutcome:
        """Run one method (a request's or a batch command's) under the operating limit."""
        settings = self.settings
        handler = lookup(method, item_api=settings.item_api)
        if handler is None:
            return CallOutcome(error=RestError("Method not found!", "ERROR_METHOD_NOT_FOUND", 404))
        key = (auth.entity, method)
        now = self.clock.time()
        if self.operating.is_blocked(key, now, settings.operating_limit):
            error = RestError(
                "Method is blocked due to operation time limit.", "OPERATION_TIME_LIMIT", 429
            )
            return CallOutcome(error=error)
        ctx = CallContext(auth, method, self.store, settings, now, to_int(params.get("start")))
        arguments = {k: v for k, v in params.items() if k not in _NAVIGATION}
        start = timer.now()
        try:
            result = handler(ctx, arguments)
        except RestError as exc:
            return CallOutcome(error=exc)
        except Exception:
            logger.exception("emulator method %s failed", method)
            return CallOutcome(error=_INTERNAL_ERROR)
        timer.spend(settings.processing_for(method))
        finish = timer.now()
        self.operating.record(key, now, finish - start)
        block = time_block(start, finish, self.operating.status(key, now))
        if isinstance(result, Page):
            return CallOutcome(result.result, None, block, result.total, result.next)
        return CallOutcome(result, None, block)

    def reset_counters(self) -> None:
        """Empty the request and event logs, refill the bucket, forget operating time."""
        self.journal.clear()
        self.store.clear_events()
        self.bucket.refill()
        self.operating.clear()
        self.auth.reset_counters()
