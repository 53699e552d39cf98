"""What a method handler receives (`CallContext`) and what a list method returns (`Page`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ._auth import AuthContext, Role
from ._errors import RestError, localized
from ._settings import PortalSettings
from ._store import Store

__all__ = ["PAGE_SIZE", "CallContext", "CallOutcome", "Handler", "Page"]

PAGE_SIZE = 50


@attrs.frozen
class Page:
    """One page of a list method: `result`, plus the envelope's top-level `total` and `next`."""

    result: Any
    total: int
    next: int | None


@attrs.frozen
class CallContext:
    """One method call as a handler sees it.

    Attributes:
        auth: The caller.
        method: The normalized method name.
        store: The portal's data.
        settings: The portal's switches at call time.
        now: Portal clock time of the call.
        start: The list offset (`start`, PHP int-cast; 0 when absent).
    """

    auth: AuthContext
    method: str
    store: Store
    settings: PortalSettings
    now: float
    start: int = 0

    def text(self, key: str) -> str:
        """A message in the portal language."""
        return localized(key, self.settings.language)

    @property
    def binder_code(self) -> str | int:
        """The binder's error code: "100", or 100 on older portals."""
        return 100 if self.settings.binder_code_as_number else "100"

    @property
    def is_extranet(self) -> bool:
        """Whether the caller is not an intranet user."""
        return self.auth.role is Role.EXTRANET

    @property
    def may_delete(self) -> bool:
        """Whether the caller holds the delete right on every lead and item."""
        return self.auth.role is Role.ADMIN

    def access_denied_item(self) -> RestError:
        """The item API's `ACCESS_DENIED` error."""
        return RestError(
            self.text("access_denied"), "ACCESS_DENIED", self.settings.access_denied_status
        )


Handler = Callable[[CallContext, Mapping[str, Any]], Any]


@attrs.frozen
class CallOutcome:
    """How one method call ended: a result with its `time` block, or a `RestError`."""

    result: Any = None
    error: RestError | None = None
    time: dict[str, Any] | None = None
    total: int | None = None
    next: int | None = None
