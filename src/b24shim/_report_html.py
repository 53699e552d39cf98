"""The report as one self-contained HTML page: the verdict first, then the charts and tables.

Inline CSS and inline SVG only: no script, no font, no image and no link to fetch, so the page
opens from disk, from a mail attachment or from a CI artefact store exactly as it was written.
Every text that came from a log is escaped.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from html import escape
from typing import Any

__all__ = ["render"]

_VERDICT_COLOUR = {"safe": "#1a7f37", "differences": "#cf222e", "insufficient": "#9a6700"}
_ROUTE_COLOUR = {"legacy": "#8250df", "item": "#0969da"}
_FORMAT_COLOURS = ("#8c959f", "#afb8c1", "#6e7781")
_BEHAVIOURAL_COLOURS = ("#cf222e", "#bc4c00", "#9a6700", "#a40e26", "#e16f24", "#bf3989")
_EXTRA_COLOURS = ("#1f883d", "#0550ae", "#6639ba", "#57606a")
_MAX_BARS = 60
_WIDTH, _HEIGHT = 1000, 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 60, 16, 12, 44

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;
margin:0;background:#f6f8fa}
main{max-width:1080px;margin:0 auto;padding:24px}
.verdict{color:#fff;border-radius:10px;padding:18px 22px;margin-bottom:16px}
.verdict h1{margin:0 0 6px;font-size:30px;letter-spacing:.5px}
.verdict p{margin:0;font-size:17px}
.notes{background:#fff8c5;border:1px solid #d4a72c;border-radius:8px;padding:10px 16px;
margin:0 0 16px}
.notes li{margin:4px 0}
.figures{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:16px}
.figure{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:10px 16px;
flex:1 1 150px}
.figure b{display:block;font-size:24px}
.figure span{color:#57606a;font-size:13px}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:14px 18px;
margin-bottom:16px}
h2{font-size:18px;margin:0 0 10px}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
td.t{white-space:nowrap}
.legend{display:flex;gap:14px;flex-wrap:wrap;font-size:13px;margin:4px 0 0}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;
vertical-align:-1px}
.muted{color:#57606a}
svg text{font:12px system-ui,sans-serif;fill:#57606a}
"""


def _pct(rate: float) -> str:
    text = f"{rate * 100:.4f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _minute(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M").replace(tzinfo=timezone.utc)


def _bins(
    minutes: list[str], series: dict[str, list[int]]
) -> tuple[list[datetime], int, dict[str, list[int]]]:
    """Re-bin per-minute counts into at most ``_MAX_BARS`` equal spans of whole minutes."""
    if not minutes:
        return [], 1, {}
    first, last = _minute(minutes[0]), _minute(minutes[-1])
    span = int((last - first).total_seconds() // 60) + 1
    width = max(1, math.ceil(span / _MAX_BARS))
    count = math.ceil(span / width)
    starts = [first + timedelta(minutes=i * width) for i in range(count)]
    binned: dict[str, list[int]] = {}
    for name, values in series.items():
        row = [0] * count
        for minute, value in zip(minutes, values, strict=True):
            row[int((_minute(minute) - first).total_seconds() // 60) // width] += value
        binned[name] = row
    return starts, width, binned


def _nice(top: float) -> float:
    """A round axis maximum at or above ``top``."""
    if top <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(top))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= top:
            return float(step * power)
    return float(10 * power)  # pragma: no cover


def _number(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:g}"


def _stacked_bars(
    title: str,
    starts: list[datetime],
    width: int,
    series: dict[str, list[int]],
    colours: dict[str, str],
) -> str:
    """An SVG of stacked bars over time, with axes and a legend."""
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM
    if not starts or not series:
        # A short strip, not an empty frame the size of a chart.
        return (
            f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {_WIDTH} 36" '
            f'width="100%" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
            f'<text x="{_LEFT}" y="22">none in these logs</text></svg>'
        )
    parts = [
        f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {_WIDTH} {_HEIGHT}" '
        f'width="100%" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    totals = [sum(values[i] for values in series.values()) for i in range(len(starts))]
    top = _nice(max(totals))
    for tick in range(5):
        value = top * tick / 4
        y = _TOP + plot_h - plot_h * tick / 4
        parts.append(
            f'<line x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#eaeef2"/><text x="{_LEFT - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{_number(value)}</text>'
        )
    slot = plot_w / len(starts)
    bar = max(1.0, slot * 0.8)
    for i in range(len(starts)):
        base = float(_TOP + plot_h)
        x = _LEFT + i * slot + (slot - bar) / 2
        for name, values in series.items():
            if not values[i]:
                continue
            h = plot_h * values[i] / top
            base -= h
            label = f"{starts[i]:%Y-%m-%d %H:%M} UTC: {name} {values[i]:,}"
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colours[name]}"><title>{escape(label)}</title></rect>'
            )
    for i in {0, len(starts) // 2, len(starts) - 1}:
        x = _LEFT + i * slot + slot / 2
        anchor = "start" if i == 0 else "end" if i == len(starts) - 1 else "middle"
        if len(starts) == 1:
            anchor = "middle"
        parts.append(
            f'<text x="{x:.1f}" y="{_HEIGHT - _BOTTOM + 18}" text-anchor="{anchor}">'
            f"{starts[i]:%Y-%m-%d %H:%M}</text>"
        )
    unit = _span(width)
    parts.append(
        f'<text x="{_LEFT + plot_w / 2}" y="{_HEIGHT - 6}" text-anchor="middle">'
        f"UTC, one bar per {unit}</text>"
    )
    parts.append("</svg>")
    legend = "".join(
        f'<span><i style="background:{colours[name]}"></i>{escape(name)} ({sum(values):,})</span>'
        for name, values in series.items()
    )
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def _span(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} minute{'s' if rest != 1 else ''}"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def _latency_chart(routes: dict[str, Any]) -> str:
    """Horizontal bars: p50, p95 and p99 per route, on one linear scale."""
    rows = [
        (route, q, figures["latency_ms"][q])
        for route, figures in routes.items()
        for q in ("p50", "p95", "p99")
        if figures["latency_ms"][q] is not None
    ]
    height = 28 + 24 * max(1, len(rows))
    parts = [
        f'<svg role="img" aria-label="latency by route" viewBox="0 0 {_WIDTH} {height}" '
        f'width="100%" xmlns="http://www.w3.org/2000/svg"><title>latency by route</title>'
    ]
    if not rows:
        parts.append(
            f'<text x="{_WIDTH / 2}" y="{height / 2 + 4}" text-anchor="middle">'
            "no durations recorded</text></svg>"
        )
        return "".join(parts)
    left, right = 130, 90
    top = _nice(max(value for _, _, value in rows))
    plot_w = _WIDTH - left - right
    for tick in range(5):
        x = left + plot_w * tick / 4
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="4" y2="{height - 22}" stroke="#eaeef2"/>'
            f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle">'
            f"{_number(top * tick / 4)} ms</text>"
        )
    opacity = {"p50": "1", "p95": "0.7", "p99": "0.45"}
    for n, (route, q, value) in enumerate(rows):
        y = 6 + n * 24
        w = max(1.0, plot_w * value / top)
        colour = _ROUTE_COLOUR.get(route, "#57606a")
        parts.append(
            f'<text x="{left - 8}" y="{y + 14}" text-anchor="end">{escape(route)} {q}</text>'
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="18" fill="{colour}" '
            f'fill-opacity="{opacity[q]}"><title>{escape(route)} {q}: {value:,.1f} ms</title>'
            f'</rect><text x="{left + w + 6:.1f}" y="{y + 14}">{value:,.1f} ms</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _kind_colours(kinds: dict[str, Any], names: list[str]) -> dict[str, str]:
    colours: dict[str, str] = {}
    behavioural = iter(_BEHAVIOURAL_COLOURS * 4)
    other = iter(_FORMAT_COLOURS * 8)
    for name in names:
        is_behavioural = kinds.get(name, {}).get("behavioral", True)
        colours[name] = next(behavioural) if is_behavioural else next(other)
    return colours


def _when(value: str | None) -> str:
    return "-" if value is None else escape(value[:19].replace("T", " "))


def render(data: dict[str, Any]) -> str:
    """The page for a report's figures (``Evidence.to_dict()``)."""
    verdict = data["verdict"]
    colour = _VERDICT_COLOUR.get(verdict, "#57606a")
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>b24shim evidence: {escape(verdict)}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f'<div class="verdict" id="verdict" style="background:{colour}">'
        f"<h1>Verdict: {escape(verdict.upper())}</h1>"
        f"<p>{escape(data['summary'])}</p></div>",
    ]
    if data["notes"]:
        items = "".join(f"<li>{escape(note)}</li>" for note in data["notes"])
        out.append(f'<ul class="notes">{items}</ul>')
    figures = [
        (f"{data['deletes']:,}", "deletes recorded"),
        (f"{data['verified']:,}", "verified deletes"),
        (f"{data['behavioral']:,}", "verified deletes with a behavioural difference"),
        (_pct(data["rate_upper_bound"]), "95% upper bound of that rate (Clopper-Pearson)"),
        (_pct(data["max_rate"]), "gate (--max-rate)"),
    ]
    out.append(
        '<div class="figures">'
        + "".join(
            f'<div class="figure"><b>{v}</b><span>{escape(t)}</span></div>' for v, t in figures
        )
        + "</div>"
    )
    sources = ", ".join(escape(s) for s in data["sources"]) or "-"
    out.append(
        f'<p class="muted">From {len(data["sources"])} log(s): {sources}; '
        f"{_when(data['first_seen'])} to {_when(data['last_seen'])} UTC.</p>"
    )

    timeline = data["timeline"]
    starts, width, deletes = _bins(timeline["minutes"], timeline["deletes"])
    route_colours = {
        r: _ROUTE_COLOUR.get(r, _EXTRA_COLOURS[n % len(_EXTRA_COLOURS)])
        for n, r in enumerate(deletes)
    }
    out.append(
        '<section id="deletes-chart"><h2>Deletes over time, by route</h2>'
        + _stacked_bars("deletes over time by route", starts, width, deletes, route_colours)
        + "</section>"
    )
    _, _, differences = _bins(timeline["minutes"], timeline["differences"])
    kinds = data["kinds"]
    colours = _kind_colours(kinds, list(differences))
    # Behavioural kinds get a chart (and a scale) of their own: a handful of them would not
    # show next to the hundreds of thousands of format-only ones every item delete brings.
    behavioural = {k: v for k, v in differences.items() if kinds.get(k, {}).get("behavioral")}
    cosmetic = {k: v for k, v in differences.items() if k not in behavioural}
    out.append(
        '<section id="differences-chart"><h2>Behavioural differences over time, by kind</h2>'
        + _stacked_bars(
            "behavioural differences over time by kind", starts, width, behavioural, colours
        )
        + "</section>"
    )
    if cosmetic:
        out.append(
            '<section id="format-chart"><h2>Format-only differences over time, by kind</h2>'
            + _stacked_bars(
                "format-only differences over time by kind", starts, width, cosmetic, colours
            )
            + "</section>"
        )
    out.append(
        '<section id="latency-chart"><h2>Latency by route</h2>'
        + _latency_chart(data["routes"])
        + '<p class="muted">p50, p95 and p99 of each delete\'s time, from the first request to '
        "its result (a delete inside a batch takes its batch's time).</p></section>"
    )

    if kinds:
        rows = "".join(
            f"<tr><td><b>{escape(kind)}</b></td>"
            f"<td>{'behavioural' if s['behavioral'] else 'format only'}"
            f"{', accepted' if s['accepted'] else ''}</td>"
            f'<td class="n">{s["count"]:,}</td><td class="t">{_when(s["first_seen"])}</td>'
            f'<td class="t">{_when(s["last_seen"])}</td>'
            f"<td>{escape(', '.join(str(i) for i in s['examples']))}</td>"
            f"<td>{escape(s['advice'])}</td></tr>"
            for kind, s in kinds.items()
        )
        out.append(
            '<section id="kinds"><h2>Differences by kind, and what to do</h2><table><tr>'
            '<th>kind</th><th>type</th><th class="n">count</th><th>first seen</th>'
            "<th>last seen</th><th>example leads</th><th>what to do</th></tr>"
            f"{rows}</table></section>"
        )
    if data["stages"]:
        rows = "".join(
            f"<tr><td>{escape(stage)}</td><td>{escape(route)}</td>"
            f'<td class="n">{c["deletes"]:,}</td><td class="n">{c["verified"]:,}</td></tr>'
            for stage, routes in data["stages"].items()
            for route, c in routes.items()
        )
        out.append(
            '<section id="stages"><h2>Evidence by stage and route</h2><table><tr><th>stage</th>'
            '<th>route</th><th class="n">deletes</th><th class="n">verified</th></tr>'
            f"{rows}</table></section>"
        )
    if data["routes"]:
        rows = "".join(
            f"<tr><td>{escape(route)}</td><td class='n'>{f['deletes']:,}</td><td>"
            + escape(", ".join(f"{o} {n:,}" for o, n in f["outcomes"].items()))
            + "</td><td>"
            + escape(", ".join(f"{c} {n:,}" for c, n in f["codes"].items()) or "-")
            + "</td></tr>"
            for route, f in data["routes"].items()
        )
        out.append(
            '<section id="outcomes"><h2>Outcomes by route</h2><table><tr><th>route</th>'
            '<th class="n">deletes</th><th>outcomes</th><th>errors</th></tr>'
            f"{rows}</table></section>"
        )
    out.append(
        '<p class="muted">Written by b24shim report. The verdict is "safe" only when no '
        "verified delete had a behavioural difference and, with 95% confidence, the rate of "
        "such differences is at or below the gate.</p></main></body></html>"
    )
    return "\n".join(out) + "\n"
