"""Flag providers: the environment read live, OpenFeature per lead, and the evaluation cache."""

from __future__ import annotations

import itertools
import logging
import sys
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.flag_evaluation import FlagResolutionDetails, Reason
from openfeature.provider.in_memory_provider import InMemoryFlag, InMemoryProvider
from responses import matchers

from b24shim import ConfigError, LeadShim, Route, Stage
from b24shim.flags import (
    DEFAULT_FLAG_KEY,
    CachedStage,
    EnvStage,
    OpenFeatureStage,
    StagePolicy,
    bucket_of,
)
from conftest import WEBHOOK

LEGACY_URL = WEBHOOK + "crm.lead.delete.json"
ITEM_URL = WEBHOOK + "crm.item.delete.json"


def expect_delete(portal: responses.RequestsMock, route: str, lead_id: int) -> None:
    if route == "item":
        portal.post(
            ITEM_URL,
            json={"result": []},
            match=[matchers.json_params_matcher({"entityTypeId": 1, "id": lead_id})],
        )
    else:
        portal.post(
            LEGACY_URL,
            json={"result": True},
            match=[matchers.json_params_matcher({"id": lead_id})],
        )


class ManualTimer:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# -- EnvStage ---------------------------------------------------------------------------------


def test_env_stage_follows_the_environment_of_a_running_process(
    portal: responses.RequestsMock,
) -> None:
    env = {"B24SHIM_LEAD_DELETE_STAGE": "legacy"}
    shim = LeadShim(WEBHOOK, stage=EnvStage(env))
    expect_delete(portal, "legacy", 5)
    expect_delete(portal, "item", 6)
    expect_delete(portal, "legacy", 7)
    assert shim.delete_lead(5).route is Route.LEGACY
    env["B24SHIM_LEAD_DELETE_STAGE"] = "item"  # flipped while the shim runs
    assert shim.delete_lead(6).route is Route.ITEM
    env["B24SHIM_KILL_SWITCH"] = "on"
    result = shim.delete_lead(7)
    assert (result.route, result.stage) == (Route.LEGACY, Stage.LEGACY)


def test_env_stage_reads_os_environ_live(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("B24SHIM_LEAD_DELETE_STAGE", raising=False)
    monkeypatch.delenv("B24SHIM_ITEM_PERCENT", raising=False)
    monkeypatch.delenv("B24SHIM_KILL_SWITCH", raising=False)
    provider = EnvStage()
    assert provider(5) is Stage.LEGACY
    monkeypatch.setenv("B24SHIM_LEAD_DELETE_STAGE", "ITEM_VERIFIED")
    assert provider(5) is Stage.ITEM_VERIFIED
    assert repr(provider) == "EnvStage()"


def test_env_stage_applies_the_item_percent_by_the_fixed_bucket() -> None:
    env = {"B24SHIM_LEAD_DELETE_STAGE": "item", "B24SHIM_ITEM_PERCENT": "30"}
    provider = EnvStage(env)
    for lead in range(1, 200):
        expected = Stage.ITEM if bucket_of(lead) < 30 else Stage.LEGACY
        assert provider(lead) is expected
    env["B24SHIM_LEAD_DELETE_STAGE"] = "item_verified"
    assert {provider(i) for i in range(1, 200)} == {Stage.ITEM_VERIFIED, Stage.LEGACY_VERIFIED}
    env["B24SHIM_ITEM_PERCENT"] = "0"
    assert {provider(i) for i in range(1, 200)} == {Stage.LEGACY_VERIFIED}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("B24SHIM_LEAD_DELETE_STAGE", "itme"),
        ("B24SHIM_ITEM_PERCENT", "150"),
        ("B24SHIM_ITEM_PERCENT", "ten"),
        ("B24SHIM_KILL_SWITCH", "maybe"),
    ],
)
def test_env_stage_refuses_a_bad_value_at_start_up(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        EnvStage({variable: value})
    assert info.value.setting == variable
    assert variable in str(info.value)


def test_a_bad_value_set_later_sends_deletes_to_legacy_and_logs(
    portal: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    env = {"B24SHIM_LEAD_DELETE_STAGE": "item"}
    shim = LeadShim(WEBHOOK, stage=EnvStage(env))
    env["B24SHIM_ITEM_PERCENT"] = "101"
    expect_delete(portal, "legacy", 5)
    result = shim.delete_lead(5)
    assert result.ok
    assert result.stage is Stage.LEGACY
    assert "flag provider failed for lead 5" in caplog.text
    assert "B24SHIM_ITEM_PERCENT must be an integer 0..100" in caplog.text


# -- CachedStage ------------------------------------------------------------------------------


class CountingProvider:
    def __init__(self, answer: str = "item") -> None:
        self.answer = answer
        self.calls: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, lead_id: int) -> str:
        with self._lock:
            self.calls.append(lead_id)
        return self.answer


def test_the_cache_asks_the_provider_once_per_lead_within_the_ttl() -> None:
    timer = ManualTimer()
    counting = CountingProvider()
    cached = CachedStage(counting, ttl=10, timer=timer)
    for _ in range(5):
        for lead in (1, 2, 3):
            assert cached(lead) == "item"
    assert sorted(counting.calls) == [1, 2, 3]
    timer.now = 9.9
    cached(1)
    assert len(counting.calls) == 3
    timer.now = 10.1  # expired: the flag service is asked again
    counting.answer = "legacy"
    assert cached(1) == "legacy"
    assert counting.calls == [1, 2, 3, 1]


def test_the_cache_in_a_shim_evaluates_each_lead_once(portal: responses.RequestsMock) -> None:
    counting = CountingProvider("item")
    shim = LeadShim(WEBHOOK, stage=CachedStage(counting, ttl=60))
    for _ in range(3):
        assert shim.stage_for(5) is Stage.ITEM
        assert shim.stage_for(6) is Stage.ITEM
    assert counting.calls == [5, 6]


def test_ttl_zero_disables_the_cache() -> None:
    counting = CountingProvider()
    cached = CachedStage(counting, ttl=0)
    cached(1)
    cached(1)
    assert counting.calls == [1, 1]


def test_a_failing_provider_is_not_cached() -> None:
    answers: Iterator[Any] = iter([RuntimeError("down"), "item"])

    def flaky(_: int) -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return str(answer)

    cached = CachedStage(flaky, ttl=60)
    with pytest.raises(RuntimeError):
        cached(1)
    assert cached(1) == "item"


def test_the_cache_is_safe_under_threads() -> None:
    counting = CountingProvider()
    cached = CachedStage(counting, ttl=60)
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work() -> None:
        try:
            barrier.wait()
            for lead in itertools.islice(itertools.cycle(range(1, 51)), 2000):
                assert cached(lead) == "item"
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # At most one evaluation per thread per lead (the first ones may race), never one per call.
    assert set(counting.calls) == set(range(1, 51))
    assert len(counting.calls) <= 8 * 50


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [({"ttl": -1}, "ttl"), ({"ttl": "5"}, "ttl"), ({"maxsize": 0}, "maxsize")],
)
def test_cache_settings_are_checked(kwargs: dict[str, Any], setting: str) -> None:
    with pytest.raises(ConfigError) as info:
        CachedStage(CountingProvider(), **kwargs)
    assert info.value.setting == setting


# -- OpenFeatureStage -------------------------------------------------------------------------


@pytest.fixture
def feature_domain() -> Iterator[str]:
    domain = f"b24shim-test-{uuid.uuid4().hex}"
    yield domain
    api.set_provider(InMemoryProvider({}), domain=domain)


def client_with(domain: str, flags: dict[str, InMemoryFlag[Any]]) -> Any:
    api.set_provider(InMemoryProvider(flags), domain=domain)
    return api.get_client(domain=domain)


def targeted_flag(item_leads: set[int], seen: list[EvaluationContext]) -> InMemoryFlag[str]:
    def evaluate(flag: InMemoryFlag[str], context: EvaluationContext) -> FlagResolutionDetails[str]:
        seen.append(context)
        variant = "item" if int(context.targeting_key or 0) in item_leads else "off"
        return FlagResolutionDetails(
            value=flag.variants[variant], variant=variant, reason=Reason.TARGETING_MATCH
        )

    return InMemoryFlag("off", {"item": "item", "off": "legacy"}, context_evaluator=evaluate)


def test_openfeature_decides_per_lead_with_the_lead_in_the_context(
    portal: responses.RequestsMock, feature_domain: str
) -> None:
    seen: list[EvaluationContext] = []
    client = client_with(feature_domain, {DEFAULT_FLAG_KEY: targeted_flag({6}, seen)})
    shim = LeadShim(WEBHOOK, stage=OpenFeatureStage(client))
    expect_delete(portal, "legacy", 5)
    expect_delete(portal, "item", 6)
    assert shim.delete_lead(5).route is Route.LEGACY
    assert shim.delete_lead(6).route is Route.ITEM
    assert [(c.targeting_key, c.attributes["lead_id"]) for c in seen] == [("5", 5), ("6", 6)]


def test_openfeature_uses_the_global_client_and_a_custom_flag_key(feature_domain: str) -> None:
    client_with(
        feature_domain, {"my.flag": InMemoryFlag("on", {"on": "item_verified", "off": "legacy"})}
    )
    provider = OpenFeatureStage(api.get_client(domain=feature_domain), flag_key="my.flag")
    assert StagePolicy(provider).stage_for(5) is Stage.ITEM_VERIFIED
    assert "my.flag" in repr(provider)


def test_openfeature_evaluations_are_cached_per_lead(feature_domain: str) -> None:
    seen: list[EvaluationContext] = []
    client = client_with(feature_domain, {DEFAULT_FLAG_KEY: targeted_flag({5}, seen)})
    timer = ManualTimer()
    provider = OpenFeatureStage(client, ttl=30, timer=timer)
    policy = StagePolicy(provider)
    for _ in range(10):
        assert policy.stage_for(5) is Stage.ITEM
        assert policy.stage_for(7) is Stage.LEGACY
    assert len(seen) == 2
    timer.now = 31
    policy.stage_for(5)
    assert len(seen) == 3


@pytest.mark.parametrize(
    "flags",
    [
        {},  # flag missing
        {DEFAULT_FLAG_KEY: InMemoryFlag("on", {"on": True, "off": False})},  # wrong type
    ],
    ids=["missing", "wrong-type"],
)
def test_openfeature_errors_fall_back_to_legacy_and_are_logged(
    feature_domain: str, caplog: pytest.LogCaptureFixture, flags: dict[str, Any]
) -> None:
    client = client_with(feature_domain, flags)
    provider = OpenFeatureStage(client, default="item")
    with caplog.at_level(logging.WARNING, logger="b24shim.flags"):
        assert StagePolicy(provider).stage_for(5) is Stage.LEGACY
    messages = [r.getMessage() for r in caplog.records if r.name == "b24shim.flags"]
    assert len(messages) == 1
    assert f"OpenFeature flag '{DEFAULT_FLAG_KEY}' failed for lead 5" in messages[0]


def test_openfeature_nonsense_is_legacy(
    feature_domain: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_with(feature_domain, {DEFAULT_FLAG_KEY: InMemoryFlag("x", {"x": "itme"})})
    assert StagePolicy(OpenFeatureStage(client)).stage_for(5) is Stage.LEGACY
    assert "flag provider failed for lead 5" in caplog.text


def test_openfeature_default_must_be_a_stage(feature_domain: str) -> None:
    with pytest.raises(ConfigError) as info:
        OpenFeatureStage(client_with(feature_domain, {}), default="itme")
    assert info.value.setting == "default"


def test_openfeature_missing_is_a_config_error_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "openfeature", None)
    with pytest.raises(ConfigError, match=r"b24shim\[openfeature\]"):
        OpenFeatureStage()
