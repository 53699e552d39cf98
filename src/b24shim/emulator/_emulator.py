"""`Emulator`: a local Bitrix24 portal over real HTTP on loopback (the public face)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Generic, TypeVar, cast, overload

from ._clock import Clock, SystemClock
from ._faults import FaultConfig
from ._fields import legacy_changes
from ._journal import DEFAULT_JOURNAL_SIZE, RequestRecord
from ._portal import JOURNAL_PATH, Portal
from ._schema import SCHEMAS
from ._server import PortalServer
from ._settings import PortalSettings, ProcessingTime
from ._store import ENTITY_NAMES, RecycleBinEntry
from ._tls import TlsMaterial

__all__ = ["Emulator"]

_T = TypeVar("_T")
_LEAD = 1


def _check_positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{name} must be a number of seconds > 0, got {value!r}")


class _Setting(Generic[_T]):
    """A portal switch exposed as an attribute of `Emulator`, validated when set."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> _Setting[_T]: ...

    @overload
    def __get__(self, obj: Emulator, objtype: type | None = None) -> _T: ...

    def __get__(self, obj: Emulator | None, objtype: type | None = None) -> _T | _Setting[_T]:
        if obj is None:
            return self
        return cast(_T, getattr(obj._settings, self._name))

    def __set__(self, obj: Emulator, value: _T) -> None:
        setattr(obj._settings, self._name, value)


class Emulator:
    """A faithful local Bitrix24 portal: the answers, errors and limits of the real one.

    Serves `crm.{lead,deal,contact,company}.*`, `crm.item.*`, `crm.activity.add/list` and
    `batch` over HTTP/1.1 (or HTTPS) on loopback, with webhook and OAuth auth, the leaky bucket,
    the operating-time limit and fault injection. Use it as a context manager (or
    `start()`/`stop()`)::

        with Emulator(rate=0) as portal:
            lead_id = portal.add_lead({"TITLE": "x"})
            requests.post(portal.admin_webhook + "crm.lead.delete", json={"id": lead_id})

    Every switch below is also a settable attribute while the portal runs (validated: a bad
    value raises ValueError).

    Args:
        host: Address to bind (loopback by default).
        port: Port to bind; 0 picks a free one.
        rate: Leaky-bucket drain per second (spec 5.1); 0 disables the bucket.
        burst: Leaky-bucket size: requests above it get 503 QUERY_LIMIT_EXCEEDED.
        operating_limit: Seconds of method time per 10 minutes per (auth entity, method)
            before 429 OPERATION_TIME_LIMIT (spec 5.2).
        processing_time: Simulated handler seconds per method call, one float or a
            `{method: seconds}` map; counted on the clock, never slept.
        item_api: False makes an old on-premise portal: `crm.item.*` are 404
            ERROR_METHOD_NOT_FOUND.
        legacy_not_found: `crm.<entity>.delete` of a missing entity: "source" answers 400
            `ERROR_CORE` "Item not found" (current portals), "docs" each method page's form
            (lead and deal 400 `""` "Not found"; see docs/emulator.md).
        access_denied_status: 400 (source) or 403 (docs) for `crm.item.*` ACCESS_DENIED and
            allowed_only_intranet_user.
        binder_code_as_number: Send the binder error code as the number 100 instead of "100".
        require_https: Refuse webhook calls over plain HTTP (401 INVALID_REQUEST).
        faults: Fault injection, or None.
        clock: Object with `time()`; the real clock by default, `ManualClock` in tests.
        language: "en" or "ru", for localized descriptions.
        tls: Serve HTTPS with a certificate for the host, localhost and 127.0.0.1, signed by a
            CA made for this emulator (extra `tls`: trustme); its PEM file is `ca_bundle`.
        connection_timeout: Seconds an idle keep-alive connection, or one that stops sending
            in the middle of a request or TLS handshake, is kept before it is closed.
        journal_size: How many of the newest requests `requests` keeps (memory stays bounded).

    Raises:
        ValueError: For a setting out of range.
    """

    rate: _Setting[float] = _Setting()
    burst: _Setting[int] = _Setting()
    operating_limit: _Setting[float] = _Setting()
    processing_time: _Setting[ProcessingTime] = _Setting()
    item_api: _Setting[bool] = _Setting()
    legacy_not_found: _Setting[str] = _Setting()
    access_denied_status: _Setting[int] = _Setting()
    binder_code_as_number: _Setting[bool] = _Setting()
    require_https: _Setting[bool] = _Setting()
    faults: _Setting[FaultConfig | None] = _Setting()
    language: _Setting[str] = _Setting()

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate: float = 2.0,
        burst: int = 50,
        operating_limit: float = 480.0,
        processing_time: ProcessingTime = 0.0,
        item_api: bool = True,
        legacy_not_found: str = "source",
        access_denied_status: int = 400,
        binder_code_as_number: bool = False,
        require_https: bool = False,
        faults: FaultConfig | None = None,
        clock: Clock | None = None,
        language: str = "en",
        tls: bool = False,
        connection_timeout: float = 30.0,
        journal_size: int = DEFAULT_JOURNAL_SIZE,
    ) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an integer 0..65535 (0 = any free port), got {port!r}")
        _check_positive("connection_timeout", connection_timeout)
        if isinstance(journal_size, bool) or not isinstance(journal_size, int) or journal_size < 1:
            raise ValueError(f"journal_size must be an integer >= 1, got {journal_size!r}")
        if not isinstance(tls, bool):
            raise ValueError(f"tls must be True or False, got {tls!r}")
        if clock is not None and not callable(getattr(clock, "time", None)):
            raise ValueError(
                f"clock must have a time() method returning unix seconds, got {clock!r}"
            )
        self._settings = PortalSettings(
            rate=rate,
            burst=burst,
            operating_limit=operating_limit,
            processing_time=processing_time,
            item_api=item_api,
            legacy_not_found=legacy_not_found,
            access_denied_status=access_denied_status,
            binder_code_as_number=binder_code_as_number,
            require_https=require_https,
            faults=faults,
            language=language,
        )
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._portal = Portal(self._settings, self._clock, journal_size)
        self._tls = TlsMaterial(host) if tls else None
        self._connection_timeout = float(connection_timeout)
        self._host = host
        self._port = port
        self._lifecycle = threading.Lock()
        self._server: PortalServer | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind the port and serve in a background thread; return self.

        Raises:
            RuntimeError: If it is already running.
        """
        with self._lifecycle:
            if self._server is not None:
                raise RuntimeError("the emulator is already running")
            context = self._tls.start() if self._tls is not None else None
            server = PortalServer(
                (self._host, self._port),
                self._portal,
                ssl_context=context,
                connection_timeout=self._connection_timeout,
            )
            server.start()
            self._server = server
        return self

    def stop(self) -> None:
        """Stop serving, close the listening socket and open connections (idempotent)."""
        with self._lifecycle:
            server, self._server = self._server, None
        if server is None:
            return
        server.stop()  # an event of the serving loop: returns at once
        if self._tls is not None:
            self._tls.stop()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the portal is serving."""
        return self._server is not None

    # -- addresses and credentials -----------------------------------------------------

    @property
    def host(self) -> str:
        """The bound host."""
        return self._host

    @property
    def port(self) -> int:
        """The bound port (the requested one before `start`)."""
        server = self._server
        return int(server.server_address[1]) if server is not None else self._port

    @property
    def base_url(self) -> str:
        """`http://HOST:PORT`, or `https://HOST:PORT` with `tls=True`.

        Raises:
            RuntimeError: If the portal is not running (the port is not known yet).
        """
        if self._server is None:
            raise RuntimeError(
                "the emulator is not running: use `with Emulator() as portal:` or call start()"
            )
        host = self._host if ":" not in self._host else f"[{self._host}]"
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{host}:{self.port}"

    @property
    def tls(self) -> bool:
        """Whether the portal speaks HTTPS."""
        return self._tls is not None

    @property
    def ca_bundle(self) -> str:
        """Path of a PEM file with the CA that signed the portal's certificate (HTTPS only).

        Give it to clients as their CA file (`verify=`, `REQUESTS_CA_BUNDLE`, `SSL_CERT_FILE`);
        the file lives while the portal runs.

        Raises:
            RuntimeError: Without `tls=True`, or before `start()`.
        """
        if self._tls is None:
            raise RuntimeError("the emulator speaks plain HTTP: make it with Emulator(tls=True)")
        if self._server is None or self._tls.ca_path is None:
            raise RuntimeError("the CA file is written at start(): start the emulator first")
        return self._tls.ca_path

    def _webhook(self, user_id: int) -> str:
        return f"{self.base_url}/rest/{user_id}/{self._portal.auth.webhook_codes[user_id]}/"

    @property
    def admin_webhook(self) -> str:
        """Webhook URL of user 1, the administrator (ends with "/")."""
        return self._webhook(1)

    @property
    def restricted_webhook(self) -> str:
        """Webhook URL of user 2, who may read and add but not delete."""
        return self._webhook(2)

    @property
    def extranet_webhook(self) -> str:
        """Webhook URL of user 3, an extranet user (`allowed_only_intranet_user`)."""
        return self._webhook(3)

    @property
    def token_url(self) -> str:
        """The OAuth token endpoint, `BASE_URL/oauth/token/`."""
        return f"{self.base_url}/oauth/token/"

    @property
    def client_id(self) -> str:
        """The registered OAuth application's client id."""
        return self._portal.auth.client_id

    @property
    def client_secret(self) -> str:
        """The registered OAuth application's client secret."""
        return self._portal.auth.client_secret

    def issue_tokens(self, user_id: int = 1, expires_in: float = 3600) -> tuple[str, str]:
        """Issue an OAuth (access, refresh) pair for a user; the access token expires on the clock.

        Refreshed tokens get the same lifetime.

        Raises:
            ValueError: For an unknown user (1, 2 or 3) or a non-positive lifetime.
        """
        return self._portal.auth.issue(user_id, expires_in, self._clock.time())

    @property
    def refresh_count(self) -> int:
        """How many refresh grants the token endpoint has honoured."""
        return self._portal.auth.refresh_count

    @property
    def clock(self) -> Clock:
        """The portal clock."""
        return self._clock

    # -- direct store access (no HTTP, no limits) --------------------------------------

    def add_lead(self, fields: Mapping[str, Any] | None = None) -> int:
        """Create a lead from UPPER_CASE fields (as user 1); return its id."""
        return self.add_item(_LEAD, fields)

    def add_item(self, entity_type_id: int, fields: Mapping[str, Any] | None = None) -> int:
        """Create a lead (1), deal (2), contact (3) or company (4) from UPPER_CASE fields.

        Raises:
            ValueError: For another entity type.
        """
        if entity_type_id not in ENTITY_NAMES:
            raise ValueError(
                f"entity_type_id must be one of {sorted(ENTITY_NAMES)}, got {entity_type_id!r}"
            )
        changes = legacy_changes(SCHEMAS[entity_type_id], fields or {})
        created = self._portal.store.add(entity_type_id, changes, 1, self._clock.time())
        return int(created["ID"])

    def add_activity(self, lead_id: int, fields: Mapping[str, Any] | None = None) -> int:
        """Create an activity owned by a lead; return its id.

        Raises:
            LookupError: If the lead does not exist.
        """
        record = dict(fields or {})
        record.update(OWNER_TYPE_ID=_LEAD, OWNER_ID=lead_id)
        return self._portal.store.add_activity(record, 1, self._clock.time())

    def lead_exists(self, lead_id: int) -> bool:
        """Whether the lead exists (not deleted)."""
        return self._portal.store.exists(_LEAD, lead_id)

    def get_lead(self, lead_id: int) -> dict[str, Any] | None:
        """The lead's stored UPPER_CASE fields (a copy), or None."""
        return self.get_item(_LEAD, lead_id)

    def get_item(self, entity_type_id: int, item_id: int) -> dict[str, Any] | None:
        """An entity's stored fields (a copy: UPPER_CASE names, typed values), or None.

        Multi-fields are one list under `"FM"`: `{"ID", "TYPE_ID", "VALUE_TYPE", "VALUE"}`.

        Raises:
            ValueError: For an entity type other than 1, 2, 3 or 4.
        """
        if entity_type_id not in ENTITY_NAMES:
            raise ValueError(
                f"entity_type_id must be one of {sorted(ENTITY_NAMES)}, got {entity_type_id!r}"
            )
        return self._portal.store.get(entity_type_id, item_id)

    # -- what happened ------------------------------------------------------------------

    @property
    def events(self) -> list[dict[str, Any]]:
        """REST events so far, e.g. `{"event": "ONCRMLEADDELETE", "data": {...}, "ts": ...}`."""
        return self._portal.store.events

    @property
    def recycle_bin(self) -> list[RecycleBinEntry]:
        """Deleted entities with their activities, oldest first."""
        return self._portal.store.recycle_bin

    @property
    def requests(self) -> list[RequestRecord]:
        """The newest `/rest/` requests (at most `journal_size`), in arrival order (a snapshot)."""
        return self._portal.journal.snapshot()[0]

    @property
    def requests_dropped(self) -> int:
        """How many older requests the capped journal no longer holds."""
        return self._portal.journal.snapshot()[1]

    def clear_requests(self) -> None:
        """Empty the request journal (nothing else)."""
        self._portal.journal.clear()

    @property
    def journal_url(self) -> str:
        """URL of the request journal for tools outside this process (carries a secret).

        `GET` it for `{"records": [...], "dropped": N, "limit": N}`; add `&clear=1` to empty
        the journal after reading. `b24shim emulator --journal URL` prints it as JSON lines.
        """
        code = self._portal.auth.webhook_codes[1]
        return f"{self.base_url}{JOURNAL_PATH}?code={code}"

    def reset_counters(self) -> None:
        """Empty the request and event logs; refill the bucket; forget operating time and
        the refresh count. Data (leads, recycle bin, tokens) stay."""
        self._portal.reset_counters()

    def __repr__(self) -> str:
        where = self.base_url if self._server is not None else "not running"
        return f"<Emulator {where}>"
