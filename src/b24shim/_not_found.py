"""Which answer this portal's ``crm.lead.delete`` gives for a missing lead.

Portal versions differ: the documented answer is 400 ``{"error": "", "error_description":
"Not found"}``; current portals (where ``CCrmLead::Delete`` runs through the factory) answer 400
``{"error": "ERROR_CORE", "error_description": "Item not found"}``, with the text in the portal's
language. ``DeleteResult.to_legacy()`` on the item route must give this portal's own form, or
code that compares the error text would behave differently after the switch.

The setting (``LeadShim(legacy_not_found=...)``, ``B24SHIM_LEGACY_NOT_FOUND``):

- ``"docs"``: the documented form; ``"core"``: the current portals' form. An explicit setting
  always wins.
- ``"auto"`` (the default): the current portals' form until the shim has seen the portal's own
  answer to a ``crm.lead.delete`` of a missing lead (the legacy and verified stages come first
  in every migration, and a partial ``item_percent`` keeps some leads on legacy); from then on,
  exactly that answer (code, text and status).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from b24shim.codes import ErrorCode
from b24shim.errors import ConfigError

__all__ = ["CORE", "DOCS", "NOT_FOUND_SETTINGS", "LegacyNotFound", "NotFoundForm"]

#: The values of ``legacy_not_found``.
NOT_FOUND_SETTINGS = ("auto", "docs", "core")


@attrs.frozen
class NotFoundForm:
    """One form of the legacy not-found answer: HTTP status, ``error`` and description."""

    status: int
    error: str
    description: str

    def body(self) -> dict[str, Any]:
        """The JSON body ``crm.lead.delete`` answers in this form."""
        return {"error": self.error, "error_description": self.description}

    def answer(self) -> dict[str, Any]:
        """The form as the differences log shows an answer (status, error, description)."""
        return {"status": self.status, **self.body()}


DOCS = NotFoundForm(400, "", "Not found")
CORE = NotFoundForm(400, "ERROR_CORE", "Item not found")
_FIXED = {"docs": DOCS, "core": CORE}


class LegacyNotFound:
    """The legacy not-found form for one portal: set, or learnt from its legacy answers.

    Thread-safe without a lock: the learnt form is one immutable value, replaced by a single
    attribute assignment.

    Args:
        setting: ``"auto"``, ``"docs"`` or ``"core"``.
        name: the setting's name in error messages.

    Raises:
        ConfigError: for any other value.
    """

    def __init__(self, setting: str = "auto", *, name: str = "legacy_not_found") -> None:
        value = setting.strip().lower() if isinstance(setting, str) else setting
        if value not in NOT_FOUND_SETTINGS:
            raise ConfigError(
                name, f"{name} must be one of auto, docs or core, got {str(setting)[:20]!r}"
            )
        self.setting: str = value
        #: The form ``to_legacy()`` gives now (an attribute: every item delete reads it).
        self.form: NotFoundForm = _FIXED.get(value, CORE)
        self.learnt = False

    def observe(self, code: ErrorCode | None, raw: Mapping[str, Any], status: int | None) -> None:
        """Learn from a ``crm.lead.delete`` answer (``auto`` only; others are ignored)."""
        if self.setting != "auto" or code is not ErrorCode.NOT_FOUND:
            return
        error, description = raw.get("error"), raw.get("error_description")
        if not isinstance(error, str) or not isinstance(description, str):
            return
        self.form = NotFoundForm(status or 400, error, description)
        self.learnt = True

    def __repr__(self) -> str:
        state = "learnt" if self.learnt else "assumed" if self.setting == "auto" else "set"
        return f"LegacyNotFound({self.setting!r}, {state} {self.form.body()!r})"
