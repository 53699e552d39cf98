"""``b24shim report``: verdict, bound, evidence per stage, kinds, exit status, from crafted logs."""

from __future__ import annotations

import argparse
import io
import json
import math
import random
import sys
from pathlib import Path
from typing import Any

import pytest
import responses

from b24shim import LeadShim, Stage, report
from b24shim._stats import LatencyHistogram, binomial_cdf, clopper_pearson_upper
from b24shim.sinks import JsonlDifferenceSink

TS = "2026-11-23T10:00:00.000000+00:00"


def delete(
    lead_id: int,
    stage: str = "legacy_verified",
    *,
    route: str | None = None,
    verified: bool | None = None,
    outcome: str = "deleted",
    code: str | None = None,
    ms: float | None = 20.0,
    ts: str = TS,
) -> str:
    return json.dumps(
        {
            "record": "delete",
            "lead_id": lead_id,
            "stage": stage,
            "route": route or ("item" if Stage(stage).uses_item else "legacy"),
            "outcome": outcome,
            "verified": Stage(stage).verified if verified is None else verified,
            "code": code,
            "duration_ms": ms,
            "ts": ts,
        }
    )


def difference(
    kind: str,
    lead_id: int,
    stage: str = "legacy_verified",
    ts: str = TS,
    *,
    behavioral: bool | None = None,
    record: bool = True,
) -> str:
    data: dict[str, Any] = {
        "kind": kind,
        "lead_id": lead_id,
        "stage": stage,
        "behavioral": report.BEHAVIORAL_KINDS[kind] if behavioral is None else behavioral,
        "legacy": None,
        "item": None,
        "detail": "...",
        "ts": ts,
    }
    if record:
        data = {"record": "difference", **data}
    return json.dumps(data)


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_report(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="b24shim report")
    report.add_arguments(parser)
    return report.run(parser.parse_args(list(argv)))


def json_report(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    status = run_report(*argv, "--json")
    return status, json.loads(capsys.readouterr().out)


def clean(count: int, stage: str = "legacy_verified", start: int = 1, ts: str = TS) -> list[str]:
    return [delete(start + n, stage, ts=ts) for n in range(count)]


# -- the bound --------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 10, 3000, 1_000_000])
def test_the_bound_with_no_difference_is_the_closed_form(n: int) -> None:
    assert clopper_pearson_upper(0, n) == pytest.approx(1 - 0.05 ** (1 / n), rel=1e-12)


@pytest.mark.parametrize(
    ("x", "n", "expected"),
    [
        # scipy.stats.beta.ppf(0.95, x + 1, n - x), the textbook definition.
        (1, 10, 0.39416330243650466),
        (5, 20, 0.4555824040017489),
        (2, 50, 0.12061415542204412),
        (50, 100, 0.5863782853690882),
        (1, 3000, 0.001580301827458731),
        (3, 1_000_000, 7.75363809884006e-06),
        (10_000, 1_000_000, 0.010165213982092063),
    ],
)
def test_the_bound_matches_published_values(x: int, n: int, expected: float) -> None:
    assert clopper_pearson_upper(x, n) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(("x", "n"), [(1, 7), (3, 40), (12, 90)])
def test_at_the_bound_seeing_x_or_fewer_has_a_five_percent_chance(x: int, n: int) -> None:
    upper = clopper_pearson_upper(x, n)
    direct = sum(math.comb(n, k) * upper**k * (1 - upper) ** (n - k) for k in range(x + 1))
    assert direct == pytest.approx(0.05, rel=1e-8)
    assert binomial_cdf(x, n, 0.3) == pytest.approx(
        sum(math.comb(n, k) * 0.3**k * 0.7 ** (n - k) for k in range(x + 1)), rel=1e-10
    )


def test_no_evidence_bounds_nothing() -> None:
    assert clopper_pearson_upper(0, 0) == 1.0
    assert clopper_pearson_upper(4, 4) == 1.0


def test_percentiles_from_the_histogram_are_within_its_bucket_width() -> None:
    rng = random.Random(3)
    values = [rng.lognormvariate(3, 0.8) for _ in range(20_000)]
    histogram = LatencyHistogram()
    for value in values:
        histogram.add(value)
    ordered = sorted(values)
    for q in (0.5, 0.95, 0.99):
        exact = ordered[math.ceil(q * len(ordered)) - 1]
        assert histogram.quantile(q) == pytest.approx(exact, rel=0.026)
    assert histogram.quantile(1.0) == max(values)
    assert LatencyHistogram().quantile(0.5) is None


# -- verdicts -----------------------------------------------------------------------------------


def test_ten_clean_verified_deletes_are_not_enough(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write(tmp_path / "log.jsonl", clean(10))
    assert run_report(str(log)) == 3
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first.startswith("verdict: INSUFFICIENT: not enough evidence")
    assert "no behavioural difference in 10 verified deletes" in first
    assert "about 2,995 clean verified deletes are needed" in first


def test_three_thousand_clean_verified_deletes_at_both_stages_are_safe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = clean(1500) + clean(1500, "item_verified", start=5000)
    status, data = json_report(capsys, str(write(tmp_path / "log.jsonl", lines)))
    assert status == 0
    assert data["verdict"] == "safe"
    assert (data["deletes"], data["verified"], data["behavioral"]) == (3000, 3000, 0)
    assert data["rate_upper_bound"] == pytest.approx(1 - 0.05 ** (1 / 3000))
    assert data["rate_upper_bound"] < 0.001
    assert data["missing_stages"] == []
    assert data["notes"] == []


def test_one_behavioural_difference_counts_one_delete_not_every_lead_in_the_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        *clean(4),
        difference("result_shape", 1, "item_verified"),
        difference("visibility", 2),
        difference("outcome", 2),  # the same delete: still one
        difference("error_format", 3, "item_verified"),
    ]
    status, data = json_report(capsys, str(write(tmp_path / "log.jsonl", lines)))
    assert status == 1
    assert data["verdict"] == "differences"
    assert data["behavioral"] == 1
    assert data["verified"] == 4
    assert data["kinds"]["visibility"]["examples"] == [2]
    assert data["summary"].startswith("behavioural differences in 1 of 4 verified deletes")
    assert data["rate_upper_bound"] == pytest.approx(clopper_pearson_upper(1, 4))


def test_kinds_have_counts_times_examples_and_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        *clean(6),
        difference("outcome", 1, ts="2026-11-23T12:00:00.000000+00:00"),
        difference("outcome", 2, ts="2026-11-23T09:00:00Z"),
        difference("outcome", 3, ts="2026-11-23T13:00:00+02:00"),
        difference("outcome", 4, ts="2026-11-23T15:00:00"),  # naive: taken as UTC
    ]
    assert run_report(str(write(tmp_path / "log.jsonl", lines)), "--examples", "2") == 1
    out = capsys.readouterr().out
    assert "outcome (behavioural): 4, first 2026-11-23 09:00:00, last 2026-11-23 15:00:00" in out
    assert "e.g. leads 1, 2\n" in out
    assert "what to do: " + report.ADVICE["outcome"] in out


def test_an_accepted_kind_is_shown_but_not_held_against_the_switch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = clean(3000) + clean(10, "item_verified", 9000) + [difference("visibility", 7)]
    log = str(write(tmp_path / "log.jsonl", lines))
    assert run_report(log) == 1
    capsys.readouterr()
    status, data = json_report(capsys, log, "--accept", "visibility")
    assert status == 0
    assert data["behavioral"] == 0
    shown = data["kinds"]["visibility"]
    assert (shown["count"], shown["behavioral"], shown["accepted"]) == (1, True, True)
    assert any("accepted after review" in n and "visibility (1)" in n for n in data["notes"])


def test_max_rate_moves_the_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = str(write(tmp_path / "log.jsonl", clean(400) + clean(400, "item_verified", 1000)))
    assert run_report(log) == 3
    assert run_report(log, "--max-rate", "0.01") == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        run_report(log, "--max-rate", "2")
    assert info.value.code == 2
    assert "must be a rate from 0 up to 1" in capsys.readouterr().err


def test_a_fallback_outside_verification_is_a_difference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        *clean(3000),
        *clean(3000, "item_verified", 10_000),
        delete(77, "item", route="legacy"),
        difference("fallback", 77, "item"),
    ]
    status, data = json_report(capsys, str(write(tmp_path / "log.jsonl", lines)))
    assert status == 1
    assert (data["behavioral"], data["behavioral_unverified"]) == (0, 1)
    assert "1 deletes outside verification: fallback (1)" in data["summary"]


def test_the_verdict_says_which_verified_stage_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write(tmp_path / "log.jsonl", clean(5000, "item_verified"))
    status, data = json_report(capsys, str(log))
    assert status == 0
    assert data["missing_stages"] == ["legacy_verified"]
    run_report(str(log))
    text = capsys.readouterr().out
    assert "note: no verified delete at legacy_verified in these logs" in text
    assert "'Access denied.'" in text
    assert "run legacy_verified before deciding" in text


def test_sampled_deletes_count_only_when_verified(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [delete(n, verified=n % 10 == 0) for n in range(1, 1001)]
    _, data = json_report(capsys, str(write(tmp_path / "log.jsonl", lines)))
    assert (data["deletes"], data["verified"]) == (1000, 100)
    assert data["stages"] == {"legacy_verified": {"legacy": {"deletes": 1000, "verified": 100}}}


def test_routes_have_outcomes_codes_and_latency_percentiles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [delete(n, "item", ms=float(n)) for n in range(1, 101)]
    lines += [delete(500, "legacy", outcome="failed", code="ACCESS_DENIED", ms=None)]
    _, data = json_report(capsys, str(write(tmp_path / "log.jsonl", lines)))
    item = data["routes"]["item"]
    assert item["deletes"] == 100
    assert item["outcomes"] == {"deleted": 100}
    for q, exact in (("p50", 50), ("p95", 95), ("p99", 99)):
        assert item["latency_ms"][q] == pytest.approx(exact, rel=0.026)
    legacy = data["routes"]["legacy"]
    assert legacy["outcomes"] == {"failed": 1}
    assert legacy["codes"] == {"ACCESS_DENIED": 1}
    assert legacy["latency_ms"]["p50"] is None


def test_the_json_has_the_keys_of_the_design(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, data = json_report(capsys, str(write(tmp_path / "log.jsonl", clean(2))))
    for key in (
        "deletes",
        "verified",
        "behavioral",
        "rate_upper_bound",
        "verdict",
        "kinds",
        "routes",
        "malformed",
    ):
        assert key in data
    assert set(data["routes"]["legacy"]) >= {"deletes", "outcomes", "latency_ms"}
    assert set(data["routes"]["legacy"]["latency_ms"]) >= {"p50", "p95", "p99"}


# -- reading ------------------------------------------------------------------------------------


def test_many_logs_and_stdin_are_merged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pod_a = write(tmp_path / "a.jsonl", clean(1000))
    pod_b = write(tmp_path / "b.jsonl", clean(1000, "item_verified", 5000))
    piped = "\n".join(clean(1000, "legacy_verified", 9000)) + "\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(piped.encode())))
    status, data = json_report(capsys, str(pod_a), "-", str(pod_b))
    assert status == 0
    assert data["verified"] == 3000
    assert data["sources"] == [str(pod_a), "stdin", str(pod_b)]


def test_old_logs_of_differences_only_still_read_and_prove_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [difference("result_shape", n, "item", record=False) for n in range(1, 5)]
    status, data = json_report(capsys, str(write(tmp_path / "old.jsonl", lines)))
    assert status == 3
    assert data["deletes"] == 0
    assert data["kinds"]["result_shape"]["count"] == 4
    assert data["rate_upper_bound"] == 1.0
    assert any("differences only" in note for note in data["notes"])


def test_malformed_lines_are_counted_and_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        *clean(2),
        "this is not json",
        "[1, 2]",
        '{"record": "delete", "lead_id": true, "stage": "legacy", "route": "legacy"}',
        '{"kind": "visibility", "lead_id": 7, "behavioral": "yes"}',
        '{"kind": "still_visible", "lead_id": 9, "behavioral": tr',  # torn by a crash
        "",
    ]
    log = write(tmp_path / "log.jsonl", lines)
    _, data = json_report(capsys, str(log))
    assert data["malformed"] == 5
    assert data["malformed_lines"] == [f"{log}:{n}" for n in range(3, 8)]
    assert data["deletes"] == 2


def test_nothing_readable_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = write(tmp_path / "log.jsonl", ["not json", "neither"])
    assert run_report(str(log)) == 2
    assert "UNREADABLE" in capsys.readouterr().out


def test_a_missing_file_is_exit_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path / "good.jsonl", clean(5000))
    assert run_report(str(good), str(tmp_path / "nope.jsonl")) == 2
    err = capsys.readouterr().err
    assert "cannot read" in err
    assert "nope.jsonl" in err
    assert run_report(str(tmp_path)) == 2  # a directory


def test_the_html_page_has_the_verdict_and_charts_and_fetches_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        *clean(20),
        delete(90, "item_verified", ms=35.0, ts="2026-11-23T11:30:00.000000+00:00"),
        difference("outcome", 3, ts="2026-11-23T10:05:00.000000+00:00"),
        difference("result_shape", 90, "item_verified", ts="2026-11-23T11:30:00.000000+00:00"),
        '{"kind": "<script>alert(1)</script>", "lead_id": 5}',
    ]
    page = tmp_path / "page.html"
    assert run_report(str(write(tmp_path / "log.jsonl", lines)), "--html", str(page)) == 1
    html = page.read_text(encoding="utf-8")
    assert "Verdict: DIFFERENCES" in html
    assert html.count("<svg") == 4  # deletes, behavioural, format-only, latency
    for chart in ("deletes-chart", "differences-chart", "format-chart", "latency-chart"):
        assert f'id="{chart}"' in html
    assert "<script" not in html
    assert "&lt;script&gt;" in html
    assert "src=" not in html
    assert "href=" not in html
    assert f"page: {page}" in capsys.readouterr().out


def test_the_report_reads_what_the_shim_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    webhook = "https://example.bitrix24.com/rest/1/secret/"
    path = tmp_path / "evidence.jsonl"
    with responses.RequestsMock() as portal, JsonlDifferenceSink(path) as sink:
        portal.post(webhook + "crm.item.delete.json", json={"result": []})
        shim = LeadShim(webhook, stage="item", on_difference=sink, rate_limit=None)
        for lead in (5, 6):
            shim.delete_lead(lead)
    status, data = json_report(capsys, str(path))
    assert status == 3
    assert data["deletes"] == 2
    assert data["verified"] == 0
    assert data["routes"]["item"]["outcomes"] == {"deleted": 2}
    assert data["kinds"]["result_shape"]["count"] == 2
    assert data["malformed"] == 0


def test_a_safe_page_says_so_and_shows_no_empty_chart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = clean(1500) + clean(1500, "item_verified", start=5000)
    page = tmp_path / "page.html"
    assert run_report(str(write(tmp_path / "log.jsonl", lines)), "--html", str(page)) == 0
    html = page.read_text(encoding="utf-8")
    assert "Verdict: SAFE" in html
    assert "no behavioural difference in 3,000 verified deletes" in html
    assert 'id="differences-chart"' in html
    assert "none in these logs" in html
    assert capsys.readouterr().out.startswith("verdict: SAFE: no behavioural difference")
