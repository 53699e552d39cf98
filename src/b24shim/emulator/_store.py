"""The portal's data: CRM entities, activities, the recycle bin and the REST event log.

Everything sits behind one lock, so concurrent requests see a consistent store. Records are held
in the legacy `UPPER_CASE` naming with typed values (`_schema`, `_fields`); the method layers
render them as legacy or item views. A stored record is never changed in place (an update
stores a new dict), so readers get the records themselves and list calls copy nothing.

Deleting an entity (whichever method asks) moves it and its activities into the recycle bin as
one `RecycleBinEntry` and logs one REST event, e.g. `ONCRMLEADDELETE` (spec 2.5, 3.5).
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ._clock import iso_date
from ._fields import Changes, apply_changes
from ._schema import SCHEMAS

__all__ = ["ENTITY_NAMES", "Record", "RecycleBinEntry", "Store"]

Record = Mapping[str, Any]
EVENT_LIMIT = 10_000  # REST events kept (the newest)

# entityTypeId -> name used in event names and default titles
ENTITY_NAMES: dict[int, str] = {1: "LEAD", 2: "DEAL", 3: "CONTACT", 4: "COMPANY"}


def _private(changes: Changes) -> Changes:
    """The caller's values deep-copied, so nothing it holds is shared with the store."""
    return Changes(
        copy.deepcopy(changes.values), copy.deepcopy(changes.fm_add), dict(changes.fm_edit)
    )


@attrs.frozen
class RecycleBinEntry:
    """A deleted entity, as the portal's recycle bin keeps it.

    Attributes:
        entity_type_id: 1 lead, 2 deal, 3 contact, 4 company.
        id: The entity's id.
        fields: Its fields at deletion (UPPER_CASE names).
        activities: Its activities (UPPER_CASE fields), removed with it.
        deleted_by: The user who deleted it (None for direct store access).
        method: The REST method that deleted it (e.g. "crm.lead.delete").
        ts: Unix time of the deletion (portal clock).
    """

    entity_type_id: int
    id: int
    fields: dict[str, Any]
    activities: tuple[dict[str, Any], ...]
    deleted_by: int | None
    method: str
    ts: float


class Store:
    """In-memory CRM data; all methods are thread-safe and return copies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entities: dict[int, dict[int, dict[str, Any]]] = {etid: {} for etid in ENTITY_NAMES}
        self._next_id: dict[int, int] = dict.fromkeys(ENTITY_NAMES, 1)
        self._activities: dict[int, dict[str, Any]] = {}
        self._next_activity = 1
        self._next_fm = 1
        self._bin: list[RecycleBinEntry] = []
        # The newest events only: memory stays bounded however many deletes a test runs.
        self._events: deque[dict[str, Any]] = deque(maxlen=EVENT_LIMIT)

    def _next_fm_id(self) -> int:
        # called with the lock held
        fm_id = self._next_fm
        self._next_fm += 1
        return fm_id

    def add(self, entity_type_id: int, changes: Changes, user_id: int, now: float) -> Record:
        """Create an entity from parsed fields; return its stored record (do not change it)."""
        record = self._write(entity_type_id, None, changes, user_id, now)
        assert record is not None  # an add always writes
        return record

    def update(
        self, entity_type_id: int, entity_id: int, changes: Changes, user_id: int, now: float
    ) -> Record | None:
        """Apply parsed fields to an entity; return the new record, or None if it is missing."""
        return self._write(entity_type_id, entity_id, changes, user_id, now)

    def _write(
        self,
        entity_type_id: int,
        entity_id: int | None,
        changes: Changes,
        user_id: int,
        now: float,
    ) -> Record | None:
        table = self._entities[entity_type_id]
        with self._lock:
            if entity_id is None:
                current = None
                entity_id = self._next_id[entity_type_id]
                self._next_id[entity_type_id] = entity_id + 1
            else:
                current = table.get(entity_id)
                if current is None:
                    return None
            record = apply_changes(
                SCHEMAS[entity_type_id],
                current,
                _private(changes),
                new_id=entity_id,
                user_id=user_id,
                now=now,
                next_fm_id=self._next_fm_id,
            )
            table[entity_id] = record
            return record

    def record(self, entity_type_id: int, entity_id: int) -> Record | None:
        """The stored record itself (records are replaced, never changed, so none is copied)."""
        with self._lock:
            return self._entities[entity_type_id].get(entity_id)

    def get(self, entity_type_id: int, entity_id: int) -> dict[str, Any] | None:
        """Return a deep copy of an entity's stored fields, or None."""
        record = self.record(entity_type_id, entity_id)
        return copy.deepcopy(dict(record)) if record is not None else None

    def exists(self, entity_type_id: int, entity_id: int) -> bool:
        """Whether the entity exists."""
        with self._lock:
            return entity_id in self._entities[entity_type_id]

    def all(self, entity_type_id: int) -> list[Record]:
        """The stored records of a type by ascending id: references, no copies (see `record`)."""
        with self._lock:
            table = self._entities[entity_type_id]
            # Ids are handed out ascending and dicts keep insertion order.
            return list(table.values())

    def delete(
        self, entity_type_id: int, entity_id: int, user_id: int | None, method: str, now: float
    ) -> bool:
        """Move an entity and its activities to the recycle bin and log its delete event.

        Returns:
            False when the entity does not exist (nothing happens).
        """
        with self._lock:
            record = self._entities[entity_type_id].pop(entity_id, None)
            if record is None:
                return False
            owned = [
                key
                for key, activity in self._activities.items()
                if activity["OWNER_TYPE_ID"] == entity_type_id and activity["OWNER_ID"] == entity_id
            ]
            activities = tuple(self._activities.pop(key) for key in owned)
            self._bin.append(
                RecycleBinEntry(
                    entity_type_id, entity_id, dict(record), activities, user_id, method, now
                )
            )
            self._events.append(
                {
                    "event": f"ONCRM{ENTITY_NAMES[entity_type_id]}DELETE",
                    "data": {"FIELDS": {"ID": str(entity_id)}},
                    "ts": int(now),
                }
            )
            return True

    def add_activity(self, fields: Mapping[str, Any], user_id: int, now: float) -> int:
        """Create an activity; its OWNER_TYPE_ID/OWNER_ID must name an existing entity.

        Raises:
            LookupError: When the owner does not exist.
        """
        owner_type, owner_id = fields["OWNER_TYPE_ID"], fields["OWNER_ID"]
        stamp = iso_date(now)
        with self._lock:
            if owner_id not in self._entities.get(owner_type, {}):
                raise LookupError(f"no CRM entity {owner_type}:{owner_id} to own the activity")
            new_id = self._next_activity
            self._next_activity += 1
            record: dict[str, Any] = {"ID": new_id, "TYPE_ID": 4, "SUBJECT": "", "COMPLETED": "N"}
            record.update(copy.deepcopy(dict(fields)))
            record.update(
                {
                    "ID": new_id,
                    "OWNER_TYPE_ID": owner_type,
                    "OWNER_ID": owner_id,
                    "AUTHOR_ID": user_id,
                    "RESPONSIBLE_ID": record.get("RESPONSIBLE_ID", user_id),
                    "CREATED": stamp,
                    "LAST_UPDATED": stamp,
                }
            )
            self._activities[new_id] = record
            return new_id

    def activities(self) -> list[dict[str, Any]]:
        """Return all live activities by ascending id (the stored dicts: do not change them)."""
        with self._lock:
            # Ids ascend in insertion order; an activity is never changed once stored.
            return list(self._activities.values())

    @property
    def recycle_bin(self) -> list[RecycleBinEntry]:
        """A snapshot of the recycle bin, oldest first."""
        with self._lock:
            return list(self._bin)

    @property
    def events(self) -> list[dict[str, Any]]:
        """A snapshot of the REST events, oldest first."""
        with self._lock:
            return copy.deepcopy(list(self._events))

    def clear_events(self) -> None:
        """Empty the event log."""
        with self._lock:
            self._events.clear()

    def ids(self, entity_type_id: int) -> Iterable[int]:
        """Return the ids of an entity type (a snapshot)."""
        with self._lock:
            return sorted(self._entities[entity_type_id])
