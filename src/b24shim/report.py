"""``b24shim report FILE``: a summary of a differences log written by ``JsonlDifferenceSink``.

It counts the differences by kind and stage, gives the first and last time each was seen and a
few example lead ids, separates behavioural differences from the merely cosmetic ones, and ends
with a plain verdict: "no behavioural differences in N deletes" (N = the distinct lead ids in
the log), or what to look at, one sentence of advice per behavioural kind.

Exit status: 0 when no behavioural difference was found, 1 when some were, 2 when the file
cannot be read (or holds lines but not one readable record). A malformed line is counted and
reported, never a crash.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any, TextIO

import attrs

__all__ = ["ADVICE", "Summary", "add_arguments", "run", "summarize"]

EXIT_OK, EXIT_BEHAVIOURAL, EXIT_UNREADABLE = 0, 1, 2

#: Whether each known kind is behavioural (DESIGN 6); a record's own flag wins.
BEHAVIORAL_KINDS: dict[str, bool] = {
    "result_shape": False,
    "error_format": False,
    "visibility": True,
    "outcome": True,
    "still_visible": True,
    "fallback": True,
    "verification_error": True,
}

#: One sentence of advice per behavioural kind.
ADVICE: dict[str, str] = {
    "visibility": (
        "Before the delete crm.lead.get and crm.item.get disagreed about these leads (exists, "
        "not found or denied): check the webhook user's CRM permissions in both APIs for the "
        "example leads and stay at a verified stage until the two agree."
    ),
    "outcome": (
        "The delete's outcome contradicted what the other method family saw (e.g. legacy "
        "answered 'Access denied.' for a lead the item API says is missing): code that branches "
        "on the error text will behave differently after the switch; review it for these leads."
    ),
    "still_visible": (
        "After a successful delete the other method family still returned the lead: check the "
        "example leads on the portal (recycle bin, replication delay) before relying on the "
        "item route."
    ),
    "fallback": (
        "crm.item.delete was not available (ERROR_METHOD_NOT_FOUND) and crm.lead.delete was "
        "used: this portal lacks crm.item.*; update its CRM module (or stay on legacy) before "
        "moving to the item stages."
    ),
    "verification_error": (
        "A verification read failed (transport, auth or limits), so these deletes were not "
        "fully checked: look at the error codes in the records, give the webhook read access "
        "to crm.lead.get and crm.item.get or slow the job, and run the verified stage again."
    ),
}
_GENERIC_ADVICE = (
    "An unknown behavioural difference was logged: read the records' 'detail' for the example "
    "leads before moving on."
)
_EXAMPLES = 3
_MALFORMED_SHOWN = 10


@attrs.define
class _KindSummary:
    count: int = 0
    behavioral: bool = False
    stages: Counter[str] = attrs.field(factory=Counter)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    examples: list[int] = attrs.field(factory=list)

    def add(self, record: _Record, examples: int) -> None:
        self.count += 1
        self.behavioral = self.behavioral or record.behavioral
        self.stages[record.stage] += 1
        if record.ts is not None:
            if self.first_seen is None or record.ts < self.first_seen:
                self.first_seen = record.ts
            if self.last_seen is None or record.ts > self.last_seen:
                self.last_seen = record.ts
        if len(self.examples) < examples and record.lead_id not in self.examples:
            self.examples.append(record.lead_id)


@attrs.frozen
class _Record:
    kind: str
    lead_id: int
    stage: str
    behavioral: bool
    ts: datetime | None


def _parse_ts(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"  # fromisoformat takes "Z" only from Python 3.11
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _record(line: bytes) -> _Record | None:
    """One line as a record, or None when it is not a difference."""
    try:
        data = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    kind, lead_id = data.get("kind"), data.get("lead_id")
    if not isinstance(kind, str) or not kind:
        return None
    if isinstance(lead_id, bool) or not isinstance(lead_id, int):
        return None
    behavioral = data.get("behavioral", BEHAVIORAL_KINDS.get(kind, True))
    if not isinstance(behavioral, bool):
        return None
    stage = data.get("stage")
    return _Record(
        kind=kind,
        lead_id=lead_id,
        stage=stage if isinstance(stage, str) and stage else "unknown",
        behavioral=behavioral,
        ts=_parse_ts(data.get("ts")),
    )


@attrs.define
class Summary:
    """What a differences log holds.

    Attributes:
        lines: non-blank lines read.
        records: lines that were differences.
        malformed: lines that were not (torn, not JSON, missing fields).
        malformed_lines: the first few malformed line numbers (1-based).
        leads: the distinct lead ids seen.
    """

    lines: int = 0
    records: int = 0
    malformed: int = 0
    malformed_lines: list[int] = attrs.field(factory=list)
    leads: set[int] = attrs.field(factory=set)
    kinds: dict[str, _KindSummary] = attrs.field(factory=dict)
    stages: Counter[str] = attrs.field(factory=Counter)

    @property
    def behavioral_kinds(self) -> list[str]:
        """The behavioural kinds found, most frequent first."""
        found = [k for k, s in self.kinds.items() if s.behavioral]
        return sorted(found, key=lambda k: (-self.kinds[k].count, k))

    @property
    def behavioral(self) -> int:
        """How many behavioural differences were logged."""
        return sum(s.count for s in self.kinds.values() if s.behavioral)

    @property
    def first_seen(self) -> datetime | None:
        """The earliest record's time."""
        seen = [s.first_seen for s in self.kinds.values() if s.first_seen is not None]
        return min(seen) if seen else None

    @property
    def last_seen(self) -> datetime | None:
        """The latest record's time."""
        seen = [s.last_seen for s in self.kinds.values() if s.last_seen is not None]
        return max(seen) if seen else None

    @property
    def exit_status(self) -> int:
        """0 no behavioural difference, 1 some, 2 nothing readable in a non-empty file."""
        if self.lines and not self.records:
            return EXIT_UNREADABLE
        return EXIT_BEHAVIOURAL if self.behavioral else EXIT_OK

    def verdict(self) -> str:
        """One plain sentence."""
        if self.lines and not self.records:
            return f"no readable difference in {self.lines} lines: is this a differences log?"
        deletes = len(self.leads)
        noun = "delete" if deletes == 1 else "deletes"
        if not self.behavioral:
            return f"no behavioural differences in {deletes} {noun}"
        kinds = ", ".join(f"{k} ({self.kinds[k].count})" for k in self.behavioral_kinds)
        return f"behavioural differences in {deletes} {noun}: look at {kinds}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the ``--json`` output)."""
        return {
            "lines": self.lines,
            "records": self.records,
            "malformed": {"count": self.malformed, "lines": list(self.malformed_lines)},
            "deletes": len(self.leads),
            "behavioral": self.behavioral,
            "not_behavioral": self.records - self.behavioral,
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
            "stages": dict(sorted(self.stages.items())),
            "kinds": {
                kind: {
                    "count": s.count,
                    "behavioral": s.behavioral,
                    "stages": dict(sorted(s.stages.items())),
                    "first_seen": _iso(s.first_seen),
                    "last_seen": _iso(s.last_seen),
                    "examples": list(s.examples),
                }
                for kind, s in sorted(self.kinds.items(), key=lambda i: (-i[1].count, i[0]))
            },
            "verdict": self.verdict(),
            "advice": {k: ADVICE.get(k, _GENERIC_ADVICE) for k in self.behavioral_kinds},
            "exit_status": self.exit_status,
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def summarize(lines: Iterable[bytes], *, examples: int = _EXAMPLES) -> Summary:
    """Summarize the lines of a differences log (bytes, as read from the file)."""
    summary = Summary()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        summary.lines += 1
        record = _record(line)
        if record is None:
            summary.malformed += 1
            if len(summary.malformed_lines) < _MALFORMED_SHOWN:
                summary.malformed_lines.append(number)
            continue
        summary.records += 1
        summary.leads.add(record.lead_id)
        summary.stages[record.stage] += 1
        summary.kinds.setdefault(record.kind, _KindSummary()).add(record, examples)
    return summary


def _write_text(summary: Summary, path: str, out: TextIO) -> None:
    def when(moment: datetime | None) -> str:
        return moment.isoformat(timespec="seconds") if moment is not None else "-"

    print(f"differences log: {path}", file=out)
    print(
        f"{summary.records} differences for {len(summary.leads)} leads "
        f"({summary.behavioral} behavioural, {summary.records - summary.behavioral} not)",
        file=out,
    )
    if summary.malformed:
        shown = ", ".join(str(n) for n in summary.malformed_lines)
        more = ", ..." if summary.malformed > len(summary.malformed_lines) else ""
        print(f"malformed lines: {summary.malformed} (line {shown}{more})", file=out)
    if summary.records:
        print(
            f"first seen: {when(summary.first_seen)}   last seen: {when(summary.last_seen)}",
            file=out,
        )
        stages = ", ".join(f"{stage} {n}" for stage, n in sorted(summary.stages.items()))
        print(f"by stage: {stages}", file=out)
        print("", file=out)
        header = f"{'kind':<20} {'behavioural':<12} {'count':>7}  {'first seen':<25} "
        print(header + f"{'last seen':<25} stages / example leads", file=out)
        for kind, s in sorted(summary.kinds.items(), key=lambda i: (-i[1].count, i[0])):
            stages = ", ".join(f"{stage} {n}" for stage, n in sorted(s.stages.items()))
            leads = ", ".join(str(i) for i in s.examples)
            print(
                f"{kind:<20} {'yes' if s.behavioral else 'no':<12} {s.count:>7}  "
                f"{when(s.first_seen):<25} {when(s.last_seen):<25} {stages} / leads {leads}",
                file=out,
            )
        print("", file=out)
    print(f"verdict: {summary.verdict()}", file=out)
    for kind in summary.behavioral_kinds:
        print(f"  {kind}: {ADVICE.get(kind, _GENERIC_ADVICE)}", file=out)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``report`` sub-command's arguments to ``parser``."""
    parser.add_argument(
        "file", metavar="FILE", help="a differences log (B24SHIM_DIFFERENCE_LOG), JSON lines"
    )
    parser.add_argument(
        "--json", action="store_true", help="print the summary as one JSON object instead"
    )
    parser.add_argument(
        "--examples",
        type=int,
        default=_EXAMPLES,
        metavar="N",
        help=f"example lead ids per kind (default {_EXAMPLES})",
    )


def run(args: argparse.Namespace) -> int:
    """Print the report for ``args.file``.

    Returns:
        0 when no behavioural difference was found, 1 when some were, 2 when the file cannot
        be read.
    """
    path: str = args.file
    examples: int = max(0, getattr(args, "examples", _EXAMPLES))
    try:
        with open(path, "rb") as log:
            summary = summarize(log, examples=examples)
    except OSError as exc:
        print(
            f"b24shim report: error: cannot read {path!r} ({exc.strerror or type(exc).__name__})",
            file=sys.stderr,
        )
        return EXIT_UNREADABLE
    if getattr(args, "json", False):
        data = {"file": path, **summary.to_dict()}
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        _write_text(summary, path, sys.stdout)
    return summary.exit_status
