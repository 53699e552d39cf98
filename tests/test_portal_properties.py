"""Whatever the portal answers, the shim keeps its three promises (property-based).

A fake wire answers every request with what hypothesis draws: any status, headers, JSON of any
shape and type, truncated and non-JSON bodies, empty bodies, deep nesting, batch envelopes with
missing, extra and conflicting keys, and connection failures. Through ``delete_lead``,
``delete_leads`` at every stage and the drop-in adapter:

1. ``delete_lead`` returns a ``DeleteResult`` (only ``InvalidLeadId`` is raised, and only for
   the caller's id); ``delete_leads`` yields exactly one result per input, in order.
2. ``ok`` is true only when the portal said success in the route's own form (``true`` for
   ``crm.lead.delete``, ``[]`` for ``crm.item.delete``), or said "not found" after an
   ambiguous failure (``ALREADY_ABSENT``).
3. The adapter hands legacy code a well-formed legacy answer: at the routed stages a JSON
   object with ``result: true`` or a string ``error`` and ``error_description`` (or the
   network exception legacy code would have seen); at stage ``legacy`` the portal's own bytes.

Run longer with ``pytest tests/test_portal_properties.py --hypothesis-profile=long``.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
import requests
import requests.adapters
import urllib3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from b24shim import DeleteResult, LeadShim, OAuth, Outcome, Stage
from b24shim.adapters import ShimAdapter
from conftest import WEBHOOK, WEBHOOK_CODE, FakeTime

STAGES = list(Stage)
TIME_FIELDS = [
    "start",
    "finish",
    "duration",
    "processing",
    "date_start",
    "date_finish",
    "operating",
    "operating_reset_at",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
time_blocks = st.dictionaries(st.sampled_from(TIME_FIELDS), scalars, max_size=8) | json_values
error_codes = (
    st.sampled_from(
        [
            "",
            "NOT_FOUND",
            "ACCESS_DENIED",
            "ERROR_CORE",
            "ERROR_METHOD_NOT_FOUND",
            "QUERY_LIMIT_EXCEEDED",
            "OPERATION_TIME_LIMIT",
            "expired_token",
            "INVALID_CREDENTIALS",
            "INTERNAL_SERVER_ERROR",
            "100",
        ]
    )
    | scalars
)
descriptions = (
    st.sampled_from(
        ["", "Not found", "Item not found", "Access denied.", "ID is not defined or invalid."]
    )
    | scalars
)
error_bodies = st.fixed_dictionaries(
    {"error": error_codes}, optional={"error_description": descriptions}
)
results = (
    st.sampled_from([True, False, [], {}, None, [False], {"error": "ACCESS_DENIED"}]) | json_values
)
envelopes = (
    st.fixed_dictionaries({"result": results}, optional={"time": time_blocks})
    | error_bodies
    | st.dictionaries(st.sampled_from(["result", "error", "time", "next", "total"]), json_values)
    | json_values
)
statuses = st.sampled_from([200, 200, 200, 400, 401, 403, 404, 429, 500, 502, 503, 302, 307]) | (
    st.integers(min_value=100, max_value=599)
)


def _dumps(value: object) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


def _batch_body(draw: st.DrawFn, keys: list[str]) -> object:
    """A batch envelope for these command keys: each in result, result_error, both or none."""
    maps: dict[str, dict[str, Any]] = {"result": {}, "result_error": {}, "result_time": {}}
    for key in [*keys, *draw(st.lists(st.text(max_size=4), max_size=2))]:
        place = draw(st.sampled_from(["result", "result", "result_error", "both", "none"]))
        if place in ("result", "both"):
            maps["result"][key] = draw(results)
            if draw(st.booleans()):
                maps["result_time"][key] = draw(time_blocks)
        if place in ("result_error", "both"):
            maps["result_error"][key] = draw(error_bodies | json_values)
    shaped: dict[str, Any] = {}
    for name, mapping in maps.items():
        # PHP sends an empty map as [], and the envelope may lack or mangle any map.
        shaped[name] = draw(st.sampled_from(["as is", "as is", "as is", "list", "junk", "gone"]))
        if shaped[name] == "as is":
            shaped[name] = mapping or []
        elif shaped[name] == "list":
            shaped[name] = list(mapping.values())
        elif shaped[name] == "junk":
            shaped[name] = draw(json_values)
    payload = {k: v for k, v in shaped.items() if v != "gone"}
    return draw(
        st.sampled_from(["envelope", "envelope", "envelope", "bare", "other"]).map(
            lambda form: (
                {"result": payload, "time": {"start": 1.0}}
                if form == "envelope"
                else payload
                if form == "bare"
                else None
            )
        )
    ) or draw(envelopes)


def _batch_keys(request: requests.PreparedRequest) -> list[str] | None:
    if not (request.url or "").split("?")[0].endswith(("batch.json", "batch")):
        return None
    try:
        cmd = json.loads(request.body or b"{}").get("cmd")
    except (ValueError, AttributeError):
        return []
    if isinstance(cmd, Mapping):
        return [str(k) for k in cmd]
    return [str(i) for i in range(len(cmd))] if isinstance(cmd, list) else []


class Answers:
    """Draws the portal's next answer for each request; records what was served."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data
        self.served: list[tuple[int, bytes]] = []

    def respond(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        draw = self.data.draw
        if draw(st.integers(0, 19)) == 0:
            failure = draw(st.sampled_from([requests.ConnectionError, requests.ReadTimeout]))
            raise failure("the wire broke")
        status = draw(statuses)
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if 300 <= status < 400 and draw(st.booleans()):
            headers["Location"] = draw(
                st.sampled_from(["https://moved.example.org/rest/7/code/x.json", "/elsewhere", ""])
            )
        keys = _batch_keys(request)
        form = draw(st.sampled_from(["json", "json", "json", "truncated", "garbage", "deep"]))
        if keys is not None and form == "json" and draw(st.booleans()):
            body = _dumps(draw(st.composite(lambda d: _batch_body(d, keys))()))
        elif form == "json":
            body = _dumps(draw(envelopes))
        elif form == "truncated":
            whole = _dumps(draw(envelopes))
            body = whole[: draw(st.integers(0, max(0, len(whole) - 1)))]
        elif form == "garbage":
            body = draw(st.binary(max_size=40))
        else:
            body = b"[" * draw(st.sampled_from([10, 2_000, 100_000]))
        self.served.append((status, body))
        return status, headers, body


def _response(
    adapter: requests.adapters.HTTPAdapter, request: requests.PreparedRequest, answer: Any
) -> requests.Response:
    status, headers, body = answer
    raw = urllib3.HTTPResponse(
        body=io.BytesIO(body),
        headers={**headers, "Content-Length": str(len(body))},
        status=status,
        preload_content=False,
        decode_content=False,
        request_method=request.method,
        request_url=request.url,
    )
    return adapter.build_response(request, raw)


class Wire(requests.adapters.HTTPAdapter):
    """The portal on the other end of the wire: answers what hypothesis draws."""

    answers: Answers

    def __init__(self, answers: Answers | None = None) -> None:
        super().__init__()
        if answers is not None:
            self.answers = answers

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        return _response(self, request, self.answers.respond(request))


class WiredShimAdapter(ShimAdapter, Wire):
    """The adapter under test, whose pass-through goes to the same drawn portal."""

    def __init__(self, shim: LeadShim, answers: Answers) -> None:
        ShimAdapter.__init__(self, shim)
        self.answers = answers


def make_shim(answers: Answers, stage: Stage, oauth: bool) -> LeadShim:
    session = requests.Session()
    session.mount("https://", Wire(answers))
    credentials: Any = WEBHOOK
    if oauth:
        credentials = OAuth(
            "https://portal.example.com", "acc3ssT0ken", "refr3shT0ken", "app.1", "s3cret"
        )
    return LeadShim(credentials, stage=stage, session=session, rate_limit=None, clock=FakeTime())


def assert_true_result(result: DeleteResult, lead_id: int, stage: Stage) -> None:
    assert isinstance(result, DeleteResult)
    assert result.lead_id == lead_id
    assert result.ok == (result.outcome in (Outcome.DELETED, Outcome.ALREADY_ABSENT))
    if result.outcome is Outcome.DELETED:
        said = result.raw.get("result")
        if result.route.value == "legacy":
            assert said is True
        else:
            assert isinstance(said, (list, dict))
            assert not said
        assert result.error is None
    elif result.outcome is Outcome.ALREADY_ABSENT:
        assert "error" in result.raw  # the portal said "not found" on a retry
    else:
        assert result.error is not None
    # The result serializes, whatever came (the CLI prints it as JSON).
    json.dumps(result.to_dict(), allow_nan=True, default=str)
    status, body = result.to_legacy()
    assert 100 <= status <= 599
    assert isinstance(body, dict)


def assert_legacy_shaped(response: requests.Response) -> None:
    body = json.loads(response.content)
    assert isinstance(body, dict)
    if response.status_code == 200:
        assert body.get("result") is True
    else:
        assert isinstance(body.get("error"), str)
        assert isinstance(body.get("error_description"), str)


def _profiled(test: Callable[..., None]) -> Callable[..., None]:
    return settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])(test)


lead_ids = st.integers(min_value=1, max_value=2**63 - 1)


SECRETS = (WEBHOOK_CODE, "acc3ssT0ken", "refr3shT0ken", "s3cret")


class _Everything(logging.Handler):
    """Every record of every logger, formatted as a handler would (traceback included)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextlib.contextmanager
def everything_logged() -> Iterator[_Everything]:
    root, handler = logging.getLogger(), _Everything()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.mark.parametrize("stage", STAGES)
@given(data=st.data(), lead_id=lead_ids, oauth=st.booleans())
@_profiled
def test_delete_lead_returns_a_true_result_whatever_the_portal_sends(
    stage: Stage, data: st.DataObject, lead_id: int, oauth: bool
) -> None:
    answers = Answers(data)
    with everything_logged() as logged:
        result = make_shim(answers, stage, oauth).delete_lead(lead_id)
    assert_true_result(result, lead_id, result.stage)
    shown = "\n".join([*logged.lines, repr(result), json.dumps(result.to_dict(), default=str)])
    for secret in SECRETS:
        assert secret not in shown


bulk_inputs = st.lists(
    lead_ids | st.sampled_from(["12abc", "", 0, -1, None, [5], 1.5, "٣"]), min_size=1, max_size=60
)


@pytest.mark.parametrize("stage", STAGES)
@given(data=st.data(), ids=bulk_inputs)
@_profiled
def test_delete_leads_yields_one_true_result_per_input(
    stage: Stage, data: st.DataObject, ids: list[object]
) -> None:
    answers = Answers(data)
    results = list(make_shim(answers, stage, oauth=False).delete_leads(ids))
    assert len(results) == len(ids)
    for value, result in zip(ids, results, strict=True):
        valid = isinstance(value, int) and not isinstance(value, bool) and value > 0
        if valid:
            assert_true_result(result, value, result.stage)  # type: ignore[arg-type]
        else:
            assert result.outcome is Outcome.FAILED


@pytest.mark.parametrize("stage", STAGES)
@given(data=st.data(), lead_id=lead_ids | st.sampled_from(["12abc", "7", [3], 0]))
@_profiled
def test_the_adapter_answers_legacy_code_with_a_legacy_answer(
    stage: Stage, data: st.DataObject, lead_id: object
) -> None:
    answers = Answers(data)
    shim = make_shim(answers, stage, oauth=False)
    with requests.Session() as session:
        session.mount("https://", WiredShimAdapter(shim, answers))
        try:
            response = session.post(
                WEBHOOK + "crm.lead.delete.json", json={"id": lead_id}, allow_redirects=False
            )
        except requests.RequestException:
            return  # what legacy code sees when the connection fails
    routed = stage is not Stage.LEGACY
    if routed and answers.served and response.content == answers.served[-1][1]:
        # Passed through: the legacy route's (or a coercible id's) own answer.
        return
    if not routed and answers.served:
        assert response.content == answers.served[-1][1]  # byte for byte
        return
    assert_legacy_shaped(response)


@pytest.mark.parametrize("stage", STAGES)
@given(
    data=st.data(),
    ids=st.lists(lead_ids, min_size=1, max_size=5, unique=True),
    halt=st.sampled_from([0, 1, None]),
)
@_profiled
def test_the_adapter_answers_a_legacy_batch_with_legacy_command_answers(
    stage: Stage, data: st.DataObject, ids: list[int], halt: int | None
) -> None:
    answers = Answers(data)
    shim = make_shim(answers, stage, oauth=False)
    cmd = {f"c{n}": f"crm.lead.delete?id={i}" for n, i in enumerate(ids)}
    cmd["add"] = "crm.lead.add?fields[TITLE]=x"
    payload: dict[str, Any] = {"cmd": cmd}
    if halt is not None:
        payload["halt"] = halt
    with requests.Session() as session:
        session.mount("https://", WiredShimAdapter(shim, answers))
        try:
            response = session.post(WEBHOOK + "batch.json", json=payload, allow_redirects=False)
        except requests.RequestException:
            return
    try:
        body = json.loads(response.content)
    except (ValueError, RecursionError):
        return  # the portal's own unreadable answer, passed on as legacy code would get it
    maps = body.get("result") if isinstance(body, dict) else None
    if not isinstance(maps, dict):
        return
    # The shim's own verification reads never reach legacy code in a batch answer's maps.
    for name in ("result", "result_error", "result_time", "result_total", "result_next"):
        if isinstance(maps.get(name), dict):
            assert not [key for key in maps[name] if key.startswith("b24shim_")]
    done, failed = maps.get("result"), maps.get("result_error")
    if not stage.uses_item or not isinstance(done, dict) or not isinstance(failed, dict):
        return  # a legacy-route delete's answer is the portal's own, as legacy code got it
    for key in cmd:
        if key == "add" or (key not in done and key not in failed):
            continue
        # A routed delete's answer is legacy-shaped, and in one map only.
        assert not (key in done and key in failed)
        if key in done:
            assert done[key] is True
        else:
            assert isinstance(failed[key].get("error"), str)
            assert isinstance(failed[key].get("error_description"), str)
