"""The facades the one behaviour suite runs over: LeadShim, and AsyncLeadShim driven blocking.

`BlockingAsyncShim` runs an `AsyncLeadShim` on an event loop of its own, one call at a time, so
that the same test body (`facade.delete_lead(...)`, `list(facade.delete_leads(...))`) exercises
both front ends of the one engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from b24shim import AsyncLeadShim, DeleteResult, LeadShim
from b24shim.emulator import Emulator

FACADES = ("requests", "aiohttp")


class BlockingAsyncShim:
    """An `AsyncLeadShim` with LeadShim's blocking calls, for the shared behaviour suite."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._loop = asyncio.new_event_loop()

        async def make() -> AsyncLeadShim:
            return AsyncLeadShim(*args, **kwargs)

        try:
            self.shim = self._loop.run_until_complete(make())
        except BaseException:
            self._loop.close()
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.shim, name)

    def delete_lead(self, lead_id: object) -> DeleteResult:
        return self._loop.run_until_complete(self.shim.delete_lead(lead_id))

    def delete_leads(self, ids: Iterable[object], **kwargs: Any) -> Iterator[DeleteResult]:
        async def collect() -> list[DeleteResult]:
            return [result async for result in self.shim.delete_leads(ids, **kwargs)]

        return iter(self._loop.run_until_complete(collect()))

    def close(self) -> None:
        self._loop.run_until_complete(self.shim.aclose())
        self._loop.close()


class FacadeFactory:
    """Builds the facade under test with LeadShim's arguments; closes them all at the end."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._made: list[BlockingAsyncShim] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.kind == "requests":
            return LeadShim(*args, **kwargs)
        made = BlockingAsyncShim(*args, **kwargs)
        self._made.append(made)
        return made

    def close(self) -> None:
        for made in self._made:
            made.close()


MakeFacade = Callable[..., Any]


def delete_methods(portal: Emulator) -> list[str]:
    """The delete methods the portal ran, batch commands included."""
    seen: list[str] = []
    for record in portal.requests:
        if record.method == "batch":
            commands = record.params.get("cmd", {})
            values = commands.values() if isinstance(commands, dict) else commands
            seen += [str(c).partition("?")[0] for c in values]
        else:
            seen.append(record.method)
    return [m for m in seen if m.endswith(".delete")]


_current: FacadeFactory | None = None


@pytest.fixture(params=FACADES)
def facade_kind(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test over each front end of the one engine (`make_facade` builds it)."""
    global _current  # noqa: PLW0603 - the helper below builds the facade under test
    _current = FacadeFactory(request.param)
    yield request.param
    _current.close()
    _current = None


def make_facade(*args: Any, **kwargs: Any) -> Any:
    """The facade under test, built with LeadShim's arguments."""
    assert _current is not None, "use the facade_kind fixture"
    return _current(*args, **kwargs)


def halting_batch(before: Emulator, after: Emulator) -> tuple[list[int], dict[str, Any]]:
    """Two equal leads on twin portals, and a halting batch deleting them around an add.

    On a portal without crm.item.*, a routed delete stops such a batch where the legacy batch
    would have gone on: every drop-in must send the commands after it again.
    """
    ids = [before.add_lead({"TITLE": f"lead {n}"}) for n in range(2)]
    assert ids == [after.add_lead({"TITLE": f"lead {n}"}) for n in range(2)]
    payload = {
        "halt": 1,
        "cmd": {
            "one": f"crm.lead.delete?id={ids[0]}",
            "add": "crm.lead.add?fields[TITLE]=added",
            "two": f"crm.lead.delete?id={ids[1]}",
        },
    }
    return ids, payload
