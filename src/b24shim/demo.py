"""``b24shim demo``: the main job, on the embedded emulator, with no network and no setup.

It starts a local portal, creates leads, deletes them through every stage, and prints the
normalized results, the requests each delete made, and the differences found, including
scenarios where the two routes really behave differently.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import IO

import attrs

from b24shim.emulator import Emulator
from b24shim.errors import LegacyRouteWarning
from b24shim.flags import Stage
from b24shim.result import DeleteResult, Difference
from b24shim.shim import LeadShim

__all__ = ["run_demo"]


@attrs.frozen
class _Row:
    scenario: str
    result: DeleteResult
    requests: int


def _table(rows: list[_Row]) -> list[str]:
    header = (
        "scenario",
        "stage",
        "lead",
        "method",
        "outcome",
        "error",
        "legacy answer",
        "requests",
        "differences",
    )
    cells = [header]
    for row in rows:
        result = row.result
        status, body = result.to_legacy()
        legacy = f"{status} {body.get('result', body.get('error_description'))!r}"
        kinds = ", ".join(d.kind + ("!" if d.behavioral else "") for d in result.differences) or "-"
        cells.append(
            (
                row.scenario,
                result.stage.value,
                str(result.lead_id),
                result.method,
                result.outcome.value,
                result.error.code.value if result.error else "-",
                legacy,
                str(row.requests),
                kinds,
            )
        )
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


class _Demo:
    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.rows: list[_Row] = []
        self.differences: list[Difference] = []

    def delete(self, portal: Emulator, shim: LeadShim, scenario: str, lead_id: int) -> None:
        before = len(portal.requests)
        result = shim.delete_lead(lead_id)
        self.rows.append(_Row(scenario, result, len(portal.requests) - before))

    def bulk(self, portal: Emulator, shim: LeadShim, scenario: str, ids: Iterable[int]) -> None:
        before = len(portal.requests)
        results = list(shim.delete_leads(ids))
        made = len(portal.requests) - before
        for n, result in enumerate(results):
            self.rows.append(
                _Row(f"{scenario} [{n + 1}/{len(results)}]", result, made if n == 0 else 0)
            )

    def shim(self, webhook: str, stage: Stage) -> LeadShim:
        return LeadShim(webhook, stage=stage, on_difference=self.differences.append)


def _scenarios(demo: _Demo) -> None:
    with Emulator() as portal:
        for stage in Stage:
            shim = demo.shim(portal.admin_webhook, stage)
            lead = portal.add_lead({"TITLE": f"Demo lead for {stage.value}"})
            portal.add_activity(lead, {"SUBJECT": "Follow-up call"})
            demo.delete(portal, shim, "delete an existing lead", lead)
            demo.delete(portal, shim, "delete a missing lead", lead)

        item = demo.shim(portal.admin_webhook, Stage.ITEM)
        demo.bulk(portal, item, "bulk delete, one batch", [portal.add_lead() for _ in range(3)])

        # The restricted user may read leads but not delete them. Legacy checks permissions
        # before existence, so for a missing lead the routes disagree: a behavioural
        # difference the verified stage proves before anyone switches.
        for stage in (Stage.LEGACY_VERIFIED, Stage.ITEM_VERIFIED):
            restricted = demo.shim(portal.restricted_webhook, stage)
            demo.delete(portal, restricted, "restricted user, existing lead", portal.add_lead())
            demo.delete(portal, restricted, "restricted user, missing lead", 999_999)
        events = len(portal.events)
        binned = len(portal.recycle_bin)

    with Emulator(item_api=False) as old_portal:
        old = demo.shim(old_portal.admin_webhook, Stage.ITEM)
        demo.delete(old_portal, old, "old portal without crm.item.*", old_portal.add_lead())
        demo.delete(old_portal, old, "old portal, fallback remembered", old_portal.add_lead())

    write = demo.out.write
    write("b24shim demo: crm.lead.delete -> crm.item.delete on a local portal emulator\n\n")
    for line in _table(demo.rows):
        write(line + "\n")
    write(
        "\n('!' marks a behavioural difference; 'legacy answer' is what crm.lead.delete "
        "would have answered, DeleteResult.to_legacy())\n"
    )
    write(
        f"\nSide effects on the portal: {events} ONCRMLEADDELETE events, {binned} leads in "
        "the recycle bin, whichever method deleted them.\n"
    )
    write("\nDifferences found:\n")
    for difference in demo.differences:
        mark = "behavioural" if difference.behavioral else "format only"
        write(
            f"  lead {difference.lead_id} at {difference.stage.value}: {difference.kind} "
            f"({mark}): {difference.detail}\n"
        )


def run_demo(out: IO[str]) -> int:
    """Run the demo, writing its report to ``out``; returns the exit status."""
    with warnings.catch_warnings():
        # The demo uses the legacy route on purpose; the table shows it.
        warnings.simplefilter("ignore", LegacyRouteWarning)
        _scenarios(_Demo(out))
    return 0
