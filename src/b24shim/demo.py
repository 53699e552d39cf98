"""``b24shim demo``: the main job, on the embedded emulator, with no network and no setup.

It starts a local portal, creates leads, deletes them through every stage, and prints the
normalized results, the requests each delete made, and the differences found, including
scenarios where the two routes really behave differently. Every delete and difference also goes
to an evidence log in a temporary directory, and the demo ends with what ``b24shim report``
concludes from it.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import attrs

from b24shim import report
from b24shim.emulator import Emulator
from b24shim.errors import LegacyRouteWarning
from b24shim.flags import Stage
from b24shim.result import DeleteResult, Difference
from b24shim.shim import LeadShim
from b24shim.sinks import JsonlDifferenceSink

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
        if "result" in body:
            legacy = f"{status} {body['result']!r}"
        else:
            code = body.get("error") or '""'
            legacy = f"{status} {code} {body.get('error_description')!r}"
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


class _Evidence:
    """Keeps the differences for the table and writes every record to the evidence log."""

    def __init__(self, sink: JsonlDifferenceSink, differences: list[Difference]) -> None:
        self.sink = sink
        self.differences = differences

    def __call__(self, difference: Difference) -> None:
        self.differences.append(difference)
        self.sink(difference)

    def record_delete(self, result: DeleteResult, **details: Any) -> None:
        self.sink.record_delete(result, **details)


class _Demo:
    def __init__(self, out: IO[str], log: Path) -> None:
        self.out = out
        self.rows: list[_Row] = []
        self.differences: list[Difference] = []
        self.log = log
        self.evidence = _Evidence(JsonlDifferenceSink(log), self.differences)

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
        return LeadShim(webhook, stage=stage, on_difference=self.evidence)


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


def _verdict(demo: _Demo) -> None:
    """What ``b24shim report`` says about the evidence the demo just wrote."""
    demo.evidence.sink.close()
    with demo.log.open("rb") as log:
        data = report.summarize(log).to_dict()
    write = demo.out.write
    write(f"\nb24shim report on this run's evidence log ({data['deletes']} deletes):\n")
    write(f"  verdict: {data['verdict'].upper()}: {data['summary']}\n")
    for note in data["notes"]:
        write(f"  note: {note}\n")
    write(
        "  (a real migration gathers thousands of verified deletes per stage; see MIGRATION.md, "
        "'Proving the switch safe')\n"
    )


def run_demo(out: IO[str]) -> int:
    """Run the demo, writing its report to ``out``; returns the exit status."""
    with tempfile.TemporaryDirectory(prefix="b24shim-demo-") as folder:
        demo = _Demo(out, Path(folder) / "evidence.jsonl")
        with warnings.catch_warnings():
            # The demo uses the legacy route on purpose; the table shows it.
            warnings.simplefilter("ignore", LegacyRouteWarning)
            _scenarios(demo)
        _verdict(demo)
    return 0
