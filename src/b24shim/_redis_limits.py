"""The portal's limits and memory shared by many processes through Redis (extra ``redis``).

:class:`RedisLimits` keeps, per portal, the request bucket (drain rate and burst), the
operating-time budget per method and the memory that the portal lacks ``crm.item.*`` in Redis,
so that Celery or RQ workers and pods behind one address stay under the portal's limits
together instead of each on its own. Every update runs as one Lua script on the Redis server
and reads the server's clock (``TIME``): the workers' clocks never enter the arithmetic.

Why redis-py and a Lua script of our own, not a rate-limiting library (checked against
pyrate-limiter 4.5 and throttled-py 3.5, both of which have Redis backends):

- pyrate-limiter's ``GCRA`` state (``RedisStateStore``) is a drain-plus-burst bucket, but the
  time comes from the client (its Redis bucket says it does not use ``TIME``), so workers with
  skewed clocks would disagree about the drain; its sliding-window buckets admit a second full
  burst as soon as the window passes, which the portal's bucket does not.
- throttled-py reads ``TIME``, but its leaky bucket uses whole seconds (``TIME[1]``) and drains
  ``floor(elapsed * rate)``, in steps of 2 requests a second at the standard rate; its GCRA
  has the right semantics.
- Neither has the rule the local :class:`~b24shim.limits.LeakyBucket` needs to provoke no 503
  (the drain after an idle bucket counts from the first request's *answer*, see there), and
  neither shares the operating-time budget or the memory of a portal without ``crm.item.*``,
  which would need a script of their own anyway. So one script does all three, atomically, on
  the same clock, with the same arithmetic as the local bucket; redis-py is the only
  dependency.

When Redis does not answer (down, restarting, too slow for ``timeout``) every piece falls back
to the local limits of this process, the shim logs one warning, tries Redis again after
``retry_after`` seconds, and logs when it is back. A delete never fails because Redis did.
"""

from __future__ import annotations

import contextvars
import logging
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs

from b24shim._redact import MASK, Redactor
from b24shim.errors import ConfigError
from b24shim.limits import _SLACK, Clock, LeakyBucket, OperatingPacer, RateLimit, SystemClock
from b24shim.result import CallTime

if TYPE_CHECKING:
    import redis

__all__ = ["RedisLimits"]

logger = logging.getLogger("b24shim.limits")

_Arg = str | int | float

#: Seconds the first request after an idle bucket may hold the drain (see LeakyBucket) when
#: its worker never reports the answer (it died): then the drain counts from here on.
_HOLD_MAX = 10.0
#: Seconds a worker trusts what it last read of the operating budget and the item memory.
_REFRESH = 1.0
#: The portal's operating-time window, seconds: shared budget entries expire after it.
_WINDOW = 600.0

# One script for every shared update, so that each is atomic on the server and every one reads
# the same clock. Times are seconds since 2023-11-14 (1.7e9) so that a Lua double keeps
# microseconds. Floats go back as strings: Redis truncates a Lua number in a reply to an integer.
_SCRIPT = """
local function num(x) return string.format('%.17g', x) end
local t = redis.call('TIME')
local now = (tonumber(t[1]) - 1700000000) + tonumber(t[2]) / 1000000
if ARGV[2] ~= '' then now = tonumber(ARGV[2]) - 1700000000 end
local op = ARGV[1]

if op == 'take' then
  -- KEYS[1] bucket; ARGV: rate, burst, this worker's estimate of the level (the level of a
  -- new bucket; with ARGV[9] == '1' a floor), ttl ms, slack, longest hold
  local rate, burst = tonumber(ARGV[3]), tonumber(ARGV[4])
  local slack = tonumber(ARGV[7])
  local s = redis.call('HMGET', KEYS[1], 'level', 'stamp', 'hold', 'since', 'cycle')
  local level, stamp, hold, since, cycle
  if s[1] then
    level, stamp = tonumber(s[1]), tonumber(s[2])
    hold, since, cycle = tonumber(s[3]), tonumber(s[4]), tonumber(s[5])
  else
    level, stamp, hold, since, cycle = tonumber(ARGV[5]), now, 0, now, 0
  end
  if hold == 1 and now - since > tonumber(ARGV[8]) then
    hold, stamp = 0, since + tonumber(ARGV[8])
  end
  if hold == 0 then
    level = math.max(0, level - math.max(0, now - stamp) * rate)
    stamp = math.max(stamp, now)
  end
  if ARGV[9] == '1' then
    -- Back from local limits: what this worker sent meanwhile is in the portal's bucket too.
    level = math.max(level, tonumber(ARGV[5]))
  end
  if level + 1 > burst + slack then
    return {0, num((level + 1 - burst) / rate)}
  end
  local first = 0
  if level <= slack then
    hold, since, cycle, first = 1, now, cycle + 1, 1
  end
  level = level + 1
  redis.call('HSET', KEYS[1], 'level', num(level), 'stamp', num(stamp),
             'hold', hold, 'since', num(since), 'cycle', cycle)
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[6]))
  return {1, first * cycle, num(level)}
end

if op == 'answered' then
  -- KEYS[1] bucket; ARGV[3] the cycle whose first request was answered
  local s = redis.call('HMGET', KEYS[1], 'hold', 'cycle')
  if s[1] == '1' and s[2] == ARGV[3] then
    redis.call('HSET', KEYS[1], 'hold', 0, 'stamp', num(now))
  end
  return 1
end

if op == 'pace' then
  -- KEYS: one hash per method; ARGV from 5: per key push?, operating, reset in, processing,
  -- finish (the portal's clock: which answer is newer), blocked?; ARGV[3] limit, [4] ttl ms
  local limit, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
  local out = {}
  for i, key in ipairs(KEYS) do
    local a = 5 + (i - 1) * 6
    local s = redis.call('HMGET', key, 'operating', 'reset_at', 'largest', 'finish')
    local operating, reset_at = tonumber(s[1]), tonumber(s[2])
    local largest, finish = tonumber(s[3]) or 0, tonumber(s[4]) or 0
    if ARGV[a] == '1' then
      if ARGV[a + 5] == '1' then
        operating = math.max(operating or 0, limit)
        local reset_in = tonumber(ARGV[a + 2])
        if not reset_at and reset_in >= 0 then reset_at = now + reset_in end
      elseif tonumber(ARGV[a + 4]) >= finish then
        operating, finish = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 4])
        if tonumber(ARGV[a + 2]) >= 0 then reset_at = now + tonumber(ARGV[a + 2]) end
      end
      largest = math.max(largest, tonumber(ARGV[a + 3]))
      redis.call('HSET', key, 'operating', num(operating), 'largest', num(largest),
                 'finish', num(finish))
      if reset_at then redis.call('HSET', key, 'reset_at', num(reset_at)) end
      redis.call('PEXPIRE', key, ttl)
    end
    if operating and reset_at and reset_at > now then
      out[i] = {num(operating), num(reset_at - now), num(largest)}
    else
      out[i] = {}
    end
  end
  return out
end

if op == 'item_get' then
  return redis.call('PTTL', KEYS[1])
end

if op == 'item_set' then
  redis.call('SET', KEYS[1], '1', 'PX', tonumber(ARGV[3]))
  return 1
end

return redis.error_reply('b24shim: unknown operation ' .. op)
"""


def _display_url(url: str) -> str:
    """``url`` with its password (and a user name that may be a token) masked."""
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:{MASK}" if parts.password is not None else MASK
    return parts._replace(netloc=f"{user}@{host}").geturl()


class _BadUrl(ValueError):
    """What is wrong with a Redis URL, in words that never quote it."""


def _client_from_url(url: str, timeout: float, setting: str) -> tuple[redis.Redis, str]:
    """A redis-py client for ``url`` (checked now, connected on first use) and its display."""
    try:
        import redis as redis_module  # noqa: PLC0415 - optional extra, imported on use
        from redis.backoff import NoBackoff  # noqa: PLC0415
        from redis.retry import Retry  # noqa: PLC0415
    except ImportError as exc:
        raise ConfigError(
            setting, "RedisLimits needs the redis package: pip install 'b24shim[redis]'"
        ) from exc
    expected = "redis://[[user]:password@]host[:port][/db], rediss://... or unix:///path"
    try:
        shown = _display_url(url)
    except ValueError:  # a port that is not a number, say: the URL cannot be masked
        shown = url[:80] if "@" not in url else "<hidden: it may contain a password>"
    try:
        parts = urlsplit(url)
        database = parts.path.strip("/")
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise _BadUrl(f"its scheme is {parts.scheme or 'missing'}")
        if parts.scheme != "unix" and not parts.hostname:
            raise _BadUrl("it names no host")
        if parts.scheme != "unix" and database and not database.isdigit():
            raise _BadUrl("the database after the host must be a number, such as /0")
        client = redis_module.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            # No retries inside redis-py: a Redis that does not answer at once means local
            # limits for a while (``retry_after``), not a delete kept waiting.
            retry=Retry(NoBackoff(), 0),
        )
    except ValueError as exc:
        # redis-py's and urllib's own messages may quote the URL, password and all.
        ours = isinstance(exc, _BadUrl) or "@" not in url
        reason = str(exc) if ours else "it could not be read"
        raise ConfigError(
            setting, f"{setting} must look like {expected}; {reason} (got {shown!r})"
        ) from None
    return client, shown


class _Link:
    """One Redis connection's health, shared by every limit built on it.

    The first failure logs one warning and sends every caller to its local limits; Redis is
    tried again ``retry_after`` seconds later, and the shim logs when it answers again.
    """

    def __init__(
        self,
        client: redis.Redis,
        shown: str,
        *,
        retry_after: float,
        clock: Clock,
    ) -> None:
        self.client = client
        self.shown = shown
        self.retry_after = retry_after
        self._clock = clock
        import redis as redis_module  # noqa: PLC0415 - present: a client was made

        self._errors = (redis_module.RedisError, OSError)
        self._refusal = redis_module.ResponseError  # read-only replica, out of memory...
        self._script = client.register_script(_SCRIPT)
        password = _password_of(client)
        self._redact = Redactor([password] if password else [])
        self._lock = threading.Lock()
        self._down_until: float | None = None  # while set, Redis is not tried before it
        self.failures = 0
        #: Tests only: a clock to read in place of the server's TIME (a manual clock).
        self.pinned_time: Callable[[], float] | None = None

    @property
    def up(self) -> bool:
        """Whether Redis is believed to answer (or it is time to try it again)."""
        with self._lock:
            until = self._down_until
        return until is None or self._clock.time() >= until

    @property
    def healthy(self) -> bool:
        """Whether the last try reached Redis."""
        with self._lock:
            return self._down_until is None

    def run(self, op: str, keys: Sequence[str], args: Sequence[_Arg] = ()) -> Any:
        """Run ``op`` of the script; None (after logging) when Redis did not answer."""
        if not self.up:
            return None
        pinned = "" if self.pinned_time is None else repr(self.pinned_time())
        try:
            answer = self._script(keys=list(keys), args=[op, pinned, *args])
        except self._errors as exc:
            self._failed(exc)
            return None
        self._answered()
        return answer

    def _failed(self, exc: BaseException) -> None:
        with self._lock:
            first = self._down_until is None
            self._down_until = self._clock.time() + self.retry_after
            self.failures += 1
        if first:
            refused = isinstance(exc, self._refusal)
            logger.warning(
                "Redis at %s %s (%s: %s): this process keeps the portal's limits "
                "locally until it does, and tries it again every %g s",
                self.shown,
                "refused the shim's script" if refused else "did not answer",
                type(exc).__name__,
                self._redact(str(exc)),
                self.retry_after,
                extra={"b24shim_redis": self.shown},
            )

    def _answered(self) -> None:
        with self._lock:
            was_down = self._down_until is not None
            self._down_until = None
        if was_down:
            logger.info(
                "Redis at %s answers again: the portal's limits are shared again",
                self.shown,
                extra={"b24shim_redis": self.shown},
            )


class _SharedBucket(LeakyBucket):
    """The portal's bucket kept in Redis; the inherited local bucket is the fallback.

    Same arithmetic as :class:`~b24shim.limits.LeakyBucket` (drain ``rate`` a second, room
    for ``burst``, the drain after an idle bucket counted from its first request's answer), on
    the Redis server's clock, for every process that shares the key.
    """

    def __init__(self, link: _Link, key: str, limit: RateLimit, clock: Clock) -> None:
        super().__init__(limit, clock)
        self._link = link
        self._key = key
        self._ttl_ms = int(max(2 * limit.burst / limit.rate, 2 * _HOLD_MAX) * 1000)
        # This thread's (or asyncio task's) grant: a cycle number or "local". A context
        # variable, not a threading.local: the tasks of one event loop share a thread.
        self._mine: contextvars.ContextVar[int | str | None] = contextvars.ContextVar(
            f"b24shim_grant_{key}", default=None
        )
        self._last_grant: float | None = None  # local clock, any grant shared or local
        self._last_level = 0.0  # the bucket's level just after that grant
        self._local = False  # the last grant came from the local fallback

    def _estimate(self) -> float:
        """A level for a bucket whose state is lost: as last seen here, drained since.

        Used when the Redis key is gone (a restarted Redis) and when falling back to local:
        the portal still holds what the workers sent, so neither may start from empty.
        """
        if self._last_grant is None:
            return 0.0
        idle = max(0.0, self._clock.time() - self._last_grant)
        return max(0.0, self._last_level - idle * self.limit.rate)

    def reserve(self) -> float:
        """Take room for one request in the shared bucket, or say how long until there is."""
        answer = None
        if self._link.up:
            answer = self._link.run(
                "take",
                [self._key],
                [
                    repr(self.limit.rate),
                    self.limit.burst,
                    repr(self._estimate()),
                    self._ttl_ms,
                    repr(_SLACK),
                    repr(_HOLD_MAX),
                    int(self._local),
                ],
            )
        if answer is None:
            return self._reserve_locally()
        granted, detail = int(answer[0]), answer[1]
        if granted:
            self._local = False
            self._mine.set(int(detail))
            self._last_grant, self._last_level = self._clock.time(), float(answer[2])
            return 0.0
        return max(float(detail), 1e-9)

    def _reserve_locally(self) -> float:
        if not self._local:
            # Switching to local: start from what the portal may still hold, not empty.
            level = self._estimate()
            with self._lock:
                self._level, self._stamp = level, self._clock.time()
                self._first_in_flight = False
            self._local = True
        wait = super().reserve()
        if wait <= 0:
            self._mine.set("local")
            with self._lock:
                self._last_grant, self._last_level = self._clock.time(), self._level
        return wait

    def answered(self) -> None:
        """The request this thread took room for got its answer (or failed)."""
        grant = self._mine.get()
        self._mine.set(None)
        if grant == "local":
            super().answered()
        elif isinstance(grant, int) and grant > 0:
            # Failing here only costs the drain until the hold expires (_HOLD_MAX).
            self._link.run("answered", [self._key], [grant])


@attrs.frozen
class _Push:
    operating: float
    reset_in: float  # seconds from the answer to operating_reset_at; -1 when unknown
    processing: float
    finish: float  # the portal's clock at the answer: the newer answer wins
    blocked: bool = False


class _SharedPacer(OperatingPacer):
    """The operating-time budget per method, merged through Redis; the local pacer decides.

    Every worker's answers carry the portal's own accounting for the method, so what needs
    sharing is what one worker learned and others have not yet: a method near its limit or
    blocked (429), and when it frees up. Every block is written to Redis at once; so is an
    answer near the limit (half of it used, or within twice the local pacer's margin of it),
    then at most once a second per method, the rest with the worker's next request. Before a
    request each worker reads the methods it is about to call (at most once a second each,
    unless it has news to write). ``reset_at`` is kept on the server's clock as seconds from
    the portal's answer, so skewed clocks do not matter.
    """

    def __init__(self, link: _Link, prefix: str, clock: Clock, limit: float) -> None:
        super().__init__(clock, limit)
        self._link = link
        self._prefix = prefix
        self._news: dict[str, _Push] = {}
        self._read_at: dict[str, float] = {}
        self._written_at: dict[str, float] = {}
        self._news_lock = threading.Lock()

    def observe(self, method: str, timing: CallTime | None) -> None:
        """Record an answer's accounting locally; near the limit, for the others too."""
        super().observe(method, timing)
        if timing is None or timing.operating is None:
            return
        # Near: half the budget used, or within twice the local pacer's margin of the limit.
        margin = 2 * max(5.0, 3 * (timing.processing or 0.0))
        if timing.operating < self.limit / 2 and timing.operating + margin < self.limit:
            return
        finish = timing.finish if timing.finish is not None else 0.0
        reset_in = -1.0
        if timing.operating_reset_at is not None:
            seen_at = timing.finish if timing.finish is not None else self._clock.time()
            reset_in = max(0.0, timing.operating_reset_at - seen_at)
        name, now = method.lower(), self._clock.time()
        with self._news_lock:
            self._news[name] = _Push(timing.operating, reset_in, timing.processing or 0.0, finish)
            due = now - self._written_at.get(name, -math.inf) >= _REFRESH
            if due:
                self._written_at[name] = now
        if due:  # the others learn now, not with this worker's next request (if any)
            self._sync(set())

    def blocked(self, method: str) -> float | None:
        """The method was refused with OPERATION_TIME_LIMIT: tell the others too."""
        reset_at = super().blocked(method)
        reset_in = -1.0 if reset_at is None else max(0.0, reset_at - self._clock.time())
        with self._news_lock:
            self._news[method.lower()] = _Push(self.limit, reset_in, 0.0, 0.0, blocked=True)
        self._sync(set())
        return reset_at

    def due(self, methods: Iterable[str]) -> float:
        """Merge what the other workers learned about ``methods``, then answer as locally."""
        names = list(methods)
        self._sync({name.lower() for name in names})
        return super().due(names)

    def _sync(self, methods: set[str]) -> None:
        now = self._clock.time()
        with self._news_lock:
            news, self._news = self._news, {}
            stale = {m for m in methods if now - self._read_at.get(m, -math.inf) >= _REFRESH}
        if not news and not stale:
            return
        names = sorted(stale | set(news))
        args: list[_Arg] = [repr(self.limit), int((_WINDOW + 60) * 1000)]
        for name in names:
            push = news.get(name)
            if push is None:
                args += [0, 0, -1, 0, 0, 0]
            else:
                args += [
                    1,
                    repr(push.operating),
                    repr(push.reset_in),
                    repr(push.processing),
                    repr(push.finish),
                    int(push.blocked),
                ]
        keys = [f"{self._prefix}:{name}" for name in names]
        answer = self._link.run("pace", keys, args)
        if answer is None:
            with self._news_lock:  # not lost: written with the next request that reaches Redis
                for name, push in news.items():
                    self._news.setdefault(name, push)
            return
        now = self._clock.time()
        with self._news_lock:
            for name in names:
                self._read_at[name] = now
        for name, entry in zip(names, answer, strict=True):
            if entry:
                operating, reset_in, largest = (float(value) for value in entry)
                reset_at = math.ceil(now + reset_in)
                super().observe(
                    name,
                    CallTime(processing=largest, operating=operating, operating_reset_at=reset_at),
                )


class RedisLimits:
    """The portal's limits and memory, shared by every process that uses the same Redis.

    Pass it to ``LeadShim(shared=RedisLimits("redis://host:6379/0"))`` in every worker (or set
    ``B24SHIM_REDIS_URL``): the workers then share, per portal, the request bucket (the
    shim's ``rate_limit``), the operating-time budget per method and the memory that the
    portal lacks ``crm.item.*``. The differences log is not shared: each process writes its
    own file, and ``b24shim report`` merges them.

    If Redis does not answer, each process falls back to its local limits, logs one warning,
    and tries Redis again every ``retry_after`` seconds; a delete never fails because of it.

    Args:
        url_or_client: a ``redis://``, ``rediss://`` or ``unix://`` URL, or a
            ``redis.Redis`` client of your own (its timeouts and retries then apply: keep
            them short, or a slow Redis slows every request).
        prefix: the start of every key, so that several applications can share one Redis.
        timeout: seconds to wait for Redis (connect and answer) before falling back to local
            limits; for a URL only.
        retry_after: seconds between tries while Redis does not answer.
        clock: where the shim reads time for ``retry_after`` (tests pass a manual one).
        setting: the name shown in a :class:`~b24shim.ConfigError` for a bad URL.

    Raises:
        ConfigError: a bad URL (its password never shown), or redis-py not installed.
    """

    def __init__(
        self,
        url_or_client: str | redis.Redis,
        *,
        prefix: str = "b24shim",
        timeout: float = 0.25,
        retry_after: float = 2.0,
        clock: Clock | None = None,
        setting: str = "url_or_client",
    ) -> None:
        if not isinstance(prefix, str) or not prefix:
            raise ConfigError("prefix", f"prefix must be a non-empty string, got {prefix!r}")
        if not (isinstance(timeout, (int, float)) and 0 < timeout <= 60):
            raise ConfigError("timeout", f"timeout must be seconds in (0, 60], got {timeout!r}")
        if not (isinstance(retry_after, (int, float)) and retry_after >= 0):
            raise ConfigError(
                "retry_after", f"retry_after must be seconds >= 0, got {retry_after!r}"
            )
        if isinstance(url_or_client, str):
            client, shown = _client_from_url(url_or_client.strip(), float(timeout), setting)
        elif callable(getattr(url_or_client, "register_script", None)):
            client, shown = url_or_client, _describe(url_or_client)
        else:
            raise ConfigError(
                setting,
                f"RedisLimits needs a Redis URL or a redis.Redis client, "
                f"got {type(url_or_client).__name__}",
            )
        self.prefix = prefix
        self.url = shown
        self._link = _Link(
            client, shown, retry_after=float(retry_after), clock=clock or SystemClock()
        )
        self._items: dict[str, tuple[bool, float]] = {}  # portal -> (missing, trusted until)
        self._items_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RedisLimits({self.url!r}, prefix={self.prefix!r})"

    @property
    def client(self) -> redis.Redis:
        """The redis-py client in use."""
        return self._link.client

    @property
    def available(self) -> bool:
        """False from a try Redis did not answer to the next one it does: limits are local."""
        return self._link.healthy

    def ping(self) -> bool:
        """Whether Redis answers now (for health checks; never raises)."""
        return self._link.run("item_get", [f"{self.prefix}:ping"]) is not None

    def _key(self, kind: str, portal: str) -> str:
        return f"{self.prefix}:{kind}:{portal}"

    def bucket(self, portal: str, limit: RateLimit, clock: Clock) -> LeakyBucket:
        """The request bucket of ``portal``, shared (see :class:`~b24shim.limits.SharedLimits`)."""
        return _SharedBucket(self._link, self._key("bucket", portal), limit, clock)

    def pacer(self, portal: str, clock: Clock, limit: float) -> OperatingPacer:
        """The operating-time pacer of ``portal``, shared per method."""
        return _SharedPacer(self._link, self._key("operating", portal), clock, limit)

    def item_api_missing(self, portal: str) -> bool:
        """Whether any worker found that ``portal`` lacks ``crm.item.*`` (within its TTL)."""
        now = self._link._clock.time()
        with self._items_lock:
            known = self._items.get(portal)
        if known is not None and now < known[1]:
            return known[0]
        ttl_ms = self._link.run("item_get", [self._key("no-item-api", portal)])
        if ttl_ms is None:
            return False  # Redis is away: the shim's own memory still answers for itself
        left = int(ttl_ms)  # PTTL: milliseconds left, -1 for no expiry, -2 for no key
        missing = left > 0 or left == -1
        # Nobody un-remembers a portal: a "missing" holds until it expires on the server.
        until = now + (left / 1000 if left > 0 else _REFRESH)
        with self._items_lock:
            self._items[portal] = (missing, until)
        return missing

    def remember_item_api_missing(self, portal: str, ttl: float) -> None:
        """Tell every worker that ``portal`` lacks ``crm.item.*``, for ``ttl`` seconds."""
        if ttl <= 0:
            return
        self._link.run("item_set", [self._key("no-item-api", portal)], [max(1, int(ttl * 1000))])
        with self._items_lock:
            self._items.pop(portal, None)


def _connection_kwargs(client: object) -> dict[str, Any]:
    pool = getattr(client, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", None)
    return kwargs if isinstance(kwargs, dict) else {}


def _password_of(client: object) -> str | None:
    password = _connection_kwargs(client).get("password")
    return password if isinstance(password, str) else None


def _describe(client: object) -> str:
    """``redis://host:port/db`` of a client passed in, without its password."""
    kwargs = _connection_kwargs(client)
    if "path" in kwargs:
        return f"unix://{kwargs['path']}"
    return f"redis://{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"
