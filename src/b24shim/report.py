"""``b24shim report FILE... | -``: is the switch to ``crm.item.delete`` proven safe, on our data?

It reads evidence logs written by :class:`~b24shim.sinks.JsonlDifferenceSink` (one line per
delete and one per difference; ``-`` reads stdin; many files are merged, as from many pods) and
says, in plain words first:

- the verdict: ``safe``, ``differences`` or ``insufficient``;
- the evidence per stage and route (deletes, and how many of them were verified), the outcomes
  per route and the latency per route (p50, p95, p99);
- each kind of difference with its count, first and last time seen, example leads, and what to
  do about it;
- the one-sided 95% Clopper-Pearson upper bound of the behavioural-difference rate among the
  verified deletes.

The verdict (``--max-rate R``, default 0.001): ``differences`` when a verified delete had a
behavioural difference whose kind is not accepted (``--accept KIND``: reviewed and accepted,
still counted and shown), or when a behavioural difference was seen outside verification (a
``fallback``, an ``id_coercion``); otherwise ``insufficient`` while the bound is above R (with
no difference at all that takes about 3,000 verified deletes for R = 0.001); otherwise
``safe``. The verdict also says when a verified stage that alone observes some kinds is missing
from the logs.

Exit status: 0 safe, 1 differences, 2 a file cannot be read (or holds lines but not one
readable record) or bad usage, 3 insufficient. A malformed line is counted and reported, never a
crash. Memory stays flat over any number of deletes: counters, fixed latency histograms and
per-minute time buckets, never one entry per delete (only the leads with a behavioural
difference are remembered, to count each delete once).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any, TextIO

import attrs

from b24shim._report_html import render as render_html
from b24shim._stats import LatencyHistogram, clopper_pearson_upper

__all__ = [
    "ADVICE",
    "BEHAVIORAL_KINDS",
    "DEFAULT_MAX_RATE",
    "Evidence",
    "add_arguments",
    "read_evidence",
    "run",
    "summarize",
]

EXIT_SAFE, EXIT_DIFFERENCES, EXIT_UNREADABLE, EXIT_INSUFFICIENT = 0, 1, 2, 3
#: The default ``--max-rate``: at most one behavioural difference in a thousand deletes.
DEFAULT_MAX_RATE = 0.001
CONFIDENCE = 0.95

#: Whether each known kind is behavioural (DESIGN 6); a record's own flag wins.
BEHAVIORAL_KINDS: dict[str, bool] = {
    "result_shape": False,
    "error_format": False,
    "visibility": True,
    "outcome": True,
    "still_visible": True,
    "fallback": True,
    "verification_error": True,
    "id_coercion": True,
}
#: The kinds only the read checks of a verified stage find.
VERIFICATION_KINDS = frozenset({"visibility", "outcome", "still_visible", "verification_error"})
_VERIFIED_STAGES = ("legacy_verified", "item_verified")
_ROUTES = ("legacy", "item")
_OUTCOMES = ("deleted", "already_absent", "failed", "unknown")

#: What to do about each kind.
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
    "id_coercion": (
        "The caller sent ids that PHP's (int) turns into another lead ('12abc' -> 12): legacy "
        "deleted that other lead, the item route refuses the id. Fix the caller to send plain "
        "integer ids before switching."
    ),
    "result_shape": (
        "Nothing to do: crm.item.delete answers [] where crm.lead.delete answers true, and "
        "to_legacy() and the drop-in adapters give true."
    ),
    "error_format": (
        "Nothing to do unless your code reads the raw error code or text: the canonical error "
        "is the same, and to_legacy() and the adapters give this portal's legacy answer."
    ),
}
_GENERIC_ADVICE = (
    "An unknown behavioural difference was logged: read the records' 'detail' for the example "
    "leads before moving on."
)
#: What only one verified stage can observe: shown when that stage has no verified delete.
STAGE_OBSERVES: dict[str, str] = {
    "legacy_verified": (
        "outcome differences of the legacy route (e.g. a restricted user deleting a lead that "
        "is already gone: crm.lead.delete answers 'Access denied.', crm.item.delete NOT_FOUND) "
        "are seen only at legacy_verified, which runs the legacy delete"
    ),
    "item_verified": (
        "differences of crm.item.delete's own outcome (against crm.lead.get before it, and "
        "crm.lead.get still returning the lead after it) are seen only at item_verified"
    ),
}
_EXAMPLES = 3
_MALFORMED_SHOWN = 10
_decode = json.JSONDecoder().decode


@attrs.define
class _Kind:
    count: int = 0
    behavioral: bool = False
    stages: Counter[str] = attrs.field(factory=Counter)
    first_seen: str | None = None
    last_seen: str | None = None
    examples: list[int] = attrs.field(factory=list)


@attrs.define
class _Route:
    deletes: int = 0
    outcomes: Counter[str] = attrs.field(factory=Counter)
    codes: Counter[str] = attrs.field(factory=Counter)
    latency: LatencyHistogram = attrs.field(factory=LatencyHistogram)


def _utc_text(value: object) -> str | None:
    """A record's ``ts`` as ISO-8601 UTC with microseconds (sortable as text), or None."""
    if not isinstance(value, str):
        return None
    if len(value) == 32 and value.endswith("+00:00") and value[10] == "T":
        return value  # what the sink writes: the fast path for millions of lines
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"  # fromisoformat takes "Z" only from Python 3.11
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


@attrs.define
class Evidence:
    """What a set of evidence logs holds, accumulated line by line in constant memory.

    Feed it with :meth:`add` (one line as bytes), then ask :meth:`to_dict` for the figures and
    the verdict.
    """

    examples: int = _EXAMPLES
    sources: list[str] = attrs.field(factory=list)
    lines: int = 0
    malformed: int = 0
    malformed_lines: list[str] = attrs.field(factory=list)
    deletes: int = 0
    difference_records: int = 0
    #: (stage, route) -> [deletes, verified]
    evidence: dict[tuple[str, str], list[int]] = attrs.field(factory=dict)
    routes: dict[str, _Route] = attrs.field(factory=dict)
    kinds: dict[str, _Kind] = attrs.field(factory=dict)
    #: (lead_id, stage) -> behavioural kinds seen for that delete (only leads with some).
    behavioral_leads: dict[tuple[int, str], set[str]] = attrs.field(factory=dict)
    first_seen: str | None = None
    last_seen: str | None = None
    #: minute ("YYYY-MM-DDTHH:MM", UTC) -> route -> deletes
    delete_minutes: dict[str, Counter[str]] = attrs.field(factory=dict)
    #: minute -> kind -> differences
    difference_minutes: dict[str, Counter[str]] = attrs.field(factory=dict)

    def add(self, line: bytes, source: str = "", number: int = 0) -> None:
        """Count one line of a log (blank lines are skipped).

        Args:
            source: the log's name and number: the line's number in it, for the report to
                point at a malformed line.
        """
        if not line or line.isspace():
            return
        self.lines += 1
        try:
            # The decoder itself: json.loads would sniff the encoding of every line again.
            data = _decode(line.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            data = None
        ok = isinstance(data, dict) and (
            self._delete(data) if data.get("record") == "delete" else self._difference(data)
        )
        if not ok:
            self.malformed += 1
            if len(self.malformed_lines) < _MALFORMED_SHOWN:
                where = f"{source}:{number}" if source else str(number or self.lines)
                self.malformed_lines.append(where)

    def _seen(self, ts: str) -> None:
        if self.first_seen is None or ts < self.first_seen:
            self.first_seen = ts
        if self.last_seen is None or ts > self.last_seen:
            self.last_seen = ts

    def _delete(self, data: dict[str, Any]) -> bool:
        # The hot path of a million-line log: exact type checks (bool is not an int here).
        get = data.get
        stage, route, outcome, verified = (
            get("stage"),
            get("route"),
            get("outcome"),
            get("verified"),
        )
        if type(get("lead_id")) is not int or type(verified) is not bool:
            return False
        if type(stage) is not str or type(route) is not str or type(outcome) is not str:
            return False
        self.deletes += 1
        counts = self.evidence.get((stage, route))
        if counts is None:
            counts = self.evidence[(stage, route)] = [0, 0]
        counts[0] += 1
        counts[1] += verified
        summary = self.routes.get(route)
        if summary is None:
            summary = self.routes[route] = _Route()
        summary.deletes += 1
        summary.outcomes[outcome] += 1
        code = get("code")
        if type(code) is str:
            summary.codes[code] += 1
        duration = get("duration_ms")
        if type(duration) is float or type(duration) is int:
            summary.latency.add(duration)
        ts = _utc_text(get("ts"))
        if ts is not None:
            self._seen(ts)
            key = ts[:16]
            minute = self.delete_minutes.get(key)
            if minute is None:
                minute = self.delete_minutes[key] = Counter()
            minute[route] += 1
        return True

    def _difference(self, data: dict[str, Any]) -> bool:
        kind, lead_id = data.get("kind"), data.get("lead_id")
        if not isinstance(kind, str) or not kind:
            return False
        if isinstance(lead_id, bool) or not isinstance(lead_id, int):
            return False
        behavioral = data.get("behavioral", BEHAVIORAL_KINDS.get(kind, True))
        if not isinstance(behavioral, bool):
            return False
        stage = data.get("stage")
        stage = stage if isinstance(stage, str) and stage else "unknown"
        self.difference_records += 1
        summary = self.kinds.get(kind)
        if summary is None:
            summary = self.kinds[kind] = _Kind()
        summary.count += 1
        summary.behavioral = summary.behavioral or behavioral
        summary.stages[stage] += 1
        ts = _utc_text(data.get("ts"))
        if ts is not None:
            if summary.first_seen is None or ts < summary.first_seen:
                summary.first_seen = ts
            if summary.last_seen is None or ts > summary.last_seen:
                summary.last_seen = ts
            self._seen(ts)
            self.difference_minutes.setdefault(ts[:16], Counter())[kind] += 1
        if len(summary.examples) < self.examples and lead_id not in summary.examples:
            summary.examples.append(lead_id)
        if behavioral:
            self.behavioral_leads.setdefault((lead_id, stage), set()).add(kind)
        return True

    # -- conclusions ----------------------------------------------------------------------

    @property
    def verified(self) -> int:
        """Delete records with ``verified`` true."""
        return sum(counts[1] for counts in self.evidence.values())

    def verified_at(self, stage: str) -> int:
        """Verified deletes at ``stage``."""
        return sum(c[1] for (s, _), c in self.evidence.items() if s == stage)

    def _behavioral(self, accepted: frozenset[str]) -> tuple[int, int]:
        """(verified deletes with a behavioural difference, other deletes with one)."""
        checked = unchecked = 0
        for (_, stage), kinds in self.behavioral_leads.items():
            open_kinds = kinds - accepted
            if not open_kinds:
                continue
            if stage in _VERIFIED_STAGES and open_kinds & VERIFICATION_KINDS:
                checked += 1
            else:
                unchecked += 1
        return checked, unchecked

    def to_dict(
        self, *, max_rate: float = DEFAULT_MAX_RATE, accepted: Iterable[str] = ()
    ) -> dict[str, Any]:
        """The figures and the verdict, JSON-ready (the ``--json`` output)."""
        accept = frozenset(accepted)
        verified = self.verified
        behavioral, unchecked = self._behavioral(accept)
        bound = clopper_pearson_upper(min(behavioral, verified), verified, CONFIDENCE)
        if behavioral or unchecked:
            verdict = "differences"
        elif bound > max_rate:
            verdict = "insufficient"
        else:
            verdict = "safe"
        missing = [s for s in _VERIFIED_STAGES if self.verified_at(s) == 0]
        data: dict[str, Any] = {
            "verdict": verdict,
            "summary": "",
            "notes": [],
            "sources": list(self.sources),
            "lines": self.lines,
            "malformed": self.malformed,
            "malformed_lines": list(self.malformed_lines),
            "deletes": self.deletes,
            "verified": verified,
            "behavioral": behavioral,
            "behavioral_unverified": unchecked,
            "rate_upper_bound": bound,
            "confidence": CONFIDENCE,
            "max_rate": max_rate,
            "accepted": sorted(accept),
            "needed_verified": _needed(max_rate) if verdict == "insufficient" else None,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "stages": self._stages(),
            "missing_stages": missing,
            "routes": self._routes(),
            "kinds": self._kinds(accept),
            "timeline": self._timeline(),
        }
        data["summary"], data["notes"] = _explain(data, self.difference_records)
        return data

    def _stages(self) -> dict[str, dict[str, dict[str, int]]]:
        stages: dict[str, dict[str, dict[str, int]]] = {}
        for (stage, route), (deletes, verified) in sorted(self.evidence.items()):
            stages.setdefault(stage, {})[route] = {"deletes": deletes, "verified": verified}
        return stages

    def _routes(self) -> dict[str, dict[str, Any]]:
        routes: dict[str, dict[str, Any]] = {}
        for name, route in sorted(self.routes.items()):
            latency = route.latency
            routes[name] = {
                "deletes": route.deletes,
                "outcomes": dict(route.outcomes.most_common()),
                "codes": dict(route.codes.most_common()),
                "latency_ms": {
                    "p50": _round(latency.quantile(0.50)),
                    "p95": _round(latency.quantile(0.95)),
                    "p99": _round(latency.quantile(0.99)),
                    "max": _round(latency.maximum if latency.total else None),
                    "count": latency.total,
                },
            }
        return routes

    def _kinds(self, accepted: frozenset[str]) -> dict[str, dict[str, Any]]:
        ordered = sorted(self.kinds.items(), key=lambda i: (not i[1].behavioral, -i[1].count, i[0]))
        return {
            kind: {
                "count": s.count,
                "behavioral": s.behavioral,
                "accepted": kind in accepted,
                "stages": dict(sorted(s.stages.items())),
                "first_seen": s.first_seen,
                "last_seen": s.last_seen,
                "examples": list(s.examples),
                "advice": ADVICE.get(kind, _GENERIC_ADVICE),
            }
            for kind, s in ordered
        }

    def _timeline(self) -> dict[str, Any]:
        """Deletes per route and differences per kind, per minute (UTC)."""
        minutes = sorted(set(self.delete_minutes) | set(self.difference_minutes))
        return {
            "minutes": minutes,
            "deletes": {
                route: [self.delete_minutes.get(m, Counter())[route] for m in minutes]
                for route in sorted({r for c in self.delete_minutes.values() for r in c})
            },
            "differences": {
                kind: [self.difference_minutes.get(m, Counter())[kind] for m in minutes]
                for kind in sorted({k for c in self.difference_minutes.values() for k in c})
            },
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _needed(max_rate: float) -> int:
    """Clean verified deletes after which the bound falls to ``max_rate`` (none found)."""
    if not 0 < max_rate < 1:
        return 0
    return math.ceil(math.log(1 - CONFIDENCE) / math.log1p(-max_rate))


def _percent(rate: float) -> str:
    text = f"{rate * 100:.4f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _explain(data: dict[str, Any], difference_records: int) -> tuple[str, list[str]]:
    """The verdict in one plain sentence, and the notes that qualify it."""
    verified, bound, gate = data["verified"], data["rate_upper_bound"], data["max_rate"]
    noun = "delete" if verified == 1 else "deletes"
    kinds = data["kinds"]
    open_kinds = [
        k for k, s in kinds.items() if s["behavioral"] and not s["accepted"] and s["count"]
    ]
    if data["verdict"] == "differences":
        listed = ", ".join(f"{k} ({kinds[k]['count']:,})" for k in open_kinds)
        parts = []
        if data["behavioral"]:
            parts.append(f"{data['behavioral']:,} of {verified:,} verified {noun}")
        if data["behavioral_unverified"]:
            parts.append(f"{data['behavioral_unverified']:,} deletes outside verification")
        summary = (
            f"behavioural differences in {' and '.join(parts)}: {listed}. Do not switch until "
            "each kind is fixed or reviewed and accepted (--accept KIND)."
        )
    elif data["verdict"] == "insufficient":
        summary = (
            f"not enough evidence: no behavioural difference in {verified:,} verified {noun}, "
            "but "
            f"that only shows the rate is below {_percent(bound)} (95% confidence), above the "
            f"gate of {_percent(gate)}; about {data['needed_verified']:,} clean verified "
            "deletes are needed."
        )
    else:
        summary = (
            f"no behavioural difference in {verified:,} verified {noun}; with 95% "
            f"confidence the rate is below {_percent(bound)} (gate {_percent(gate)})."
        )
    notes: list[str] = []
    for stage in data["missing_stages"]:
        if data["verdict"] != "differences" or stage == "legacy_verified":
            notes.append(
                f"no verified delete at {stage} in these logs: {STAGE_OBSERVES[stage]}; run "
                f"{stage} before deciding."
            )
    accepted = [k for k, s in kinds.items() if s["accepted"] and s["behavioral"]]
    if accepted:
        notes.append(
            "accepted after review (still counted, not held against the switch): "
            + ", ".join(f"{k} ({kinds[k]['count']})" for k in accepted)
        )
    if data["deletes"] == 0 and difference_records:
        notes.append(
            "these logs hold differences only (written before b24shim recorded every delete): "
            "they cannot show how many deletes were clean, so they prove nothing; gather new "
            "logs with this version."
        )
    if data["malformed"]:
        shown = ", ".join(data["malformed_lines"])
        more = ", ..." if data["malformed"] > len(data["malformed_lines"]) else ""
        notes.append(f"{data['malformed']} unreadable lines skipped ({shown}{more})")
    return summary, notes


def read_evidence(
    sources: Sequence[tuple[str, Iterable[bytes]]], *, examples: int = _EXAMPLES
) -> Evidence:
    """Merge the logs ``sources`` (name, lines as bytes) into one :class:`Evidence`."""
    evidence = Evidence(examples=examples)
    for name, lines in sources:
        _feed(evidence, name, lines)
    return evidence


def summarize(lines: Iterable[bytes], *, examples: int = _EXAMPLES) -> Evidence:
    """Summarize the lines of one log (bytes, as read from the file)."""
    evidence = Evidence(examples=examples)
    add = evidence.add
    for number, line in enumerate(lines, start=1):
        add(line, "", number)
    return evidence


def exit_status(data: dict[str, Any]) -> int:
    """The exit status for a report's figures."""
    if data["lines"] and data["malformed"] == data["lines"]:
        return EXIT_UNREADABLE
    return {"safe": EXIT_SAFE, "differences": EXIT_DIFFERENCES}.get(
        data["verdict"], EXIT_INSUFFICIENT
    )


def _when(value: str | None) -> str:
    return "-" if value is None else value[:19].replace("T", " ")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def write_text(data: dict[str, Any], out: TextIO) -> None:
    """The report in plain words (the default output)."""
    w = out.write
    if data["lines"] and data["malformed"] == data["lines"]:
        w(f"verdict: UNREADABLE: not one readable record in {data['lines']} lines\n")
        w("  is this a b24shim evidence log (B24SHIM_DIFFERENCE_LOG)?\n")
        return
    w(f"verdict: {data['verdict'].upper()}: {data['summary']}\n")
    for note in data["notes"]:
        w(f"  note: {note}\n")
    sources = data["sources"]
    w(
        f"\n{data['deletes']:,} deletes, {data['verified']:,} verified, from {len(sources)} "
        f"log{'s' if len(sources) != 1 else ''} ({', '.join(sources)}); "
        f"{_when(data['first_seen'])} to {_when(data['last_seen'])} UTC\n"
    )
    w(
        f"behavioural-difference rate: {data['behavioral']} in {data['verified']:,} verified "
        f"deletes; one-sided 95% upper bound (Clopper-Pearson) {_percent(data['rate_upper_bound'])}"
        f", gate --max-rate {_percent(data['max_rate'])}\n"
    )
    if data["stages"]:
        w("\nevidence by stage and route:\n")
        w(f"  {'stage':<16} {'route':<7} {'deletes':>10} {'verified':>10}\n")
        for stage, routes in data["stages"].items():
            for route, counts in routes.items():
                w(f"  {stage:<16} {route:<7} {counts['deletes']:>10,} {counts['verified']:>10,}\n")
    if data["routes"]:
        w("\noutcomes and latency by route:\n")
        for route, figures in data["routes"].items():
            outcomes = ", ".join(f"{o} {n:,}" for o, n in figures["outcomes"].items())
            codes = ", ".join(f"{c} {n:,}" for c, n in figures["codes"].items())
            w(f"  {route}: {figures['deletes']:,} deletes: {outcomes}")
            w(f" (errors: {codes})\n" if codes else "\n")
            lat = figures["latency_ms"]
            w(
                f"    latency ms: p50 {_ms(lat['p50'])}, p95 {_ms(lat['p95'])}, "
                f"p99 {_ms(lat['p99'])}, max {_ms(lat['max'])}\n"
            )
    if data["kinds"]:
        w("\ndifferences by kind:\n")
        for kind, s in data["kinds"].items():
            label = "behavioural" if s["behavioral"] else "format only"
            if s["accepted"]:
                label += ", accepted"
            stages = ", ".join(f"{st} {n:,}" for st, n in s["stages"].items())
            leads = ", ".join(str(i) for i in s["examples"])
            w(
                f"  {kind} ({label}): {s['count']:,}, first {_when(s['first_seen'])}, last "
                f"{_when(s['last_seen'])}; stages {stages}; e.g. leads {leads}\n"
            )
            if s["behavioral"]:
                w(f"    what to do: {s['advice']}\n")
    elif data["deletes"]:
        w("\nno differences of any kind.\n")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``report`` sub-command's arguments (and its description) to ``parser``."""
    parser.description = (
        "Is the switch to crm.item.delete proven safe? Reads evidence logs (every delete and "
        "every difference, as B24SHIM_DIFFERENCE_LOG writes them), merges them, and gives a "
        "verdict from the one-sided 95% Clopper-Pearson upper bound of the behavioural-"
        "difference rate among verified deletes, with the evidence per stage and route. Exit "
        "status 0: safe; 1: behavioural differences; 2: a log cannot be read, or bad usage; "
        "3: not enough evidence yet."
    )
    parser.add_argument(
        "files",
        metavar="FILE",
        nargs="+",
        help="evidence logs (B24SHIM_DIFFERENCE_LOG, JSON lines); '-' reads stdin; several "
        "are merged, as from many pods",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the figures as one JSON object instead"
    )
    parser.add_argument(
        "--max-rate",
        type=_rate,
        default=DEFAULT_MAX_RATE,
        metavar="R",
        help=f"the highest acceptable behavioural-difference rate, 0..1 (default "
        f"{DEFAULT_MAX_RATE}): the 95%% upper bound must be at or below it for 'safe'",
    )
    parser.add_argument(
        "--accept",
        action="append",
        default=[],
        metavar="KIND",
        help="a kind reviewed and accepted: still counted and shown, not held against the "
        "switch (repeatable)",
    )
    parser.add_argument("--html", metavar="OUT", help="also write a self-contained HTML page")
    parser.add_argument(
        "--examples",
        type=int,
        default=_EXAMPLES,
        metavar="N",
        help=f"example lead ids per kind (default {_EXAMPLES})",
    )


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be a rate from 0 up to 1, got {text!r}")
    return value


def _error(message: str) -> int:
    print(f"b24shim report: error: {message}", file=sys.stderr)
    return EXIT_UNREADABLE


def run(args: argparse.Namespace) -> int:
    """Print the report for ``args.files``; returns the exit status (0, 1, 2 or 3)."""
    files: list[str] = list(getattr(args, "files", None) or [args.file])
    examples: int = max(0, getattr(args, "examples", _EXAMPLES))
    if files.count("-") > 1:
        return _error("'-' (stdin) can be given once")
    evidence = Evidence(examples=examples)
    for path in files:
        name = "stdin" if path == "-" else path
        try:
            if path == "-":
                _feed(evidence, name, sys.stdin.buffer)
            else:
                with open(path, "rb") as log:
                    _feed(evidence, name, log)
        except OSError as exc:
            return _error(f"cannot read {path!r} ({exc.strerror or type(exc).__name__})")
    data = evidence.to_dict(
        max_rate=getattr(args, "max_rate", DEFAULT_MAX_RATE),
        accepted=getattr(args, "accept", ()),
    )
    html_path = getattr(args, "html", None)
    if html_path:
        try:
            with open(html_path, "w", encoding="utf-8") as page:
                page.write(render_html(data))
        except OSError as exc:
            return _error(f"cannot write {html_path!r} ({exc.strerror or type(exc).__name__})")
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        write_text(data, sys.stdout)
        if html_path:
            print(f"\npage: {html_path}")
    return exit_status(data)


def _feed(evidence: Evidence, name: str, lines: Iterable[bytes]) -> None:
    evidence.sources.append(name)
    add = evidence.add
    for number, line in enumerate(lines, start=1):
        add(line, name, number)
