"""`batch`: up to 50 commands in one request (spec 6), after `CRestProvider::methodsBatch`.

- `cmd` is a map or a list of `"method?urlencoded-query"` strings; top-level keys are
  case-insensitive (`CMD`, `HALT`); `halt` is PHP-`(bool)`-cast, so the string "false" is true.
- Commands run in order with the parent's auth. Command 51 and later are not run; each gets
  `ERROR_BATCH_LENGTH_EXCEEDED` (with `halt`, the batch stops at the first). Non-string commands
  are skipped but use up a slot. `batch`, `download` and `upload` are refused
  (`ERROR_BATCH_METHOD_NOT_ALLOWED`). Command method names are lower-cased, nothing more.
- `$result[key][field]` (also `$next`, `$total`, `$time`, `$error`, nested `[a][b]`) in a
  parameter value is replaced with an earlier command's value (`CRestUtil::processBatchElement`):
  a value that is exactly the reference takes the referenced value as is, otherwise its PHP
  string form is spliced in; a missing key stops the walk where it is.
- The answer is bounded: `$result[...]` references can nest earlier results into later commands
  and grow the answer exponentially (a 3 KB request could ask for gigabytes). The size of every
  command's parameters and result is counted as it is made (shared parts counted each time they
  appear, as JSON would write them); past `MAX_ANSWER_BYTES` the batch stops and the request
  answers 500 `INTERNAL_SERVER_ERROR`, which is what the portal's PHP gives when it runs out of
  memory building such an answer. Commands already run keep their effects.
- The answer has `result`, `result_error`, `result_total`, `result_next`, `result_time`; failed
  commands appear only in `result_error`; maps are shaped like PHP `json_encode` (empty -> `[]`,
  keys 0..n-1 -> a JSON array).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from b24shim._php import array_key, json_shape, parse_str, to_bool, to_string

from ._context import CallOutcome
from ._errors import RestError

__all__ = ["MAX_ANSWER_BYTES", "MAX_COMMANDS", "AnswerTooLarge", "json_size", "run_batch"]

MAX_COMMANDS = 50
MAX_ANSWER_BYTES = 16 * 1024 * 1024


class AnswerTooLarge(Exception):
    """The batch answer would pass `MAX_ANSWER_BYTES`."""


def json_size(value: Any, budget: int) -> int:
    """About how many bytes `value` takes as JSON; raises `AnswerTooLarge` past `budget`.

    Walks without recursion and stops as soon as the budget is spent, so a structure that
    shares itself exponentially costs at most `budget` steps, never its full size.
    """
    size = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            size += 2
            for key, inner in item.items():
                size += len(str(key)) + 4
                stack.append(inner)
        elif isinstance(item, (list, tuple)):
            size += 2 + len(item)
            stack.extend(item)
        elif isinstance(item, str):
            size += len(item) + 2
        else:
            size += 8
        if size > budget:
            raise AnswerTooLarge
    return size


_REFUSED = ("batch", "download", "upload")
_REFERENCE = re.compile(r"\$(result|next|total|time|error)([^\s]*)", re.IGNORECASE)
_PATH = re.compile(r"\[([^\]]+)\]")

Execute = Callable[[str, dict[str, Any]], CallOutcome]


def _step(value: Any, key: str) -> tuple[bool, Any]:
    if isinstance(value, Mapping):
        for candidate in (array_key(key), key):
            if candidate in value and value[candidate] is not None:
                return True, value[candidate]
        return False, value
    if isinstance(value, list):
        index = array_key(key)
        if isinstance(index, int) and 0 <= index < len(value) and value[index] is not None:
            return True, value[index]
    return False, value


def _substitute(text: str, results: Mapping[str, Mapping[Any, Any]]) -> Any:
    current: Any = text
    for match in list(_REFERENCE.finditer(text)):
        keys = _PATH.findall(match.group(2))
        if not keys:
            continue
        value: Any = results.get(match.group(1))  # PHP looks the name up case-sensitively
        for key in keys:
            found, value = _step(value, key)
            if not found:
                break
        if match.group(0) == current:
            return value
        if isinstance(current, str):
            current = current.replace(match.group(0), to_string(value))
    return current


def _substitute_all(value: Any, results: Mapping[str, Mapping[Any, Any]]) -> Any:
    if isinstance(value, dict):
        return {key: _substitute_all(item, results) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute_all(item, results) for item in value]
    if isinstance(value, str):
        return _substitute(value, results)
    return value


def _commands(cmd: Any) -> list[tuple[int | str, Any]]:
    if isinstance(cmd, Mapping):
        return [(array_key(key), call) for key, call in cmd.items()]
    if isinstance(cmd, list):
        return list(enumerate(cmd))
    return []


def _run_one(
    call: str, results: Mapping[str, Mapping[Any, Any]], execute: Execute, budget: list[int]
) -> CallOutcome:
    path, _, query = call.partition("#")[0].partition("?")
    method = path.strip().lower()
    params = _substitute_all(parse_str(query), results)
    budget[0] -= json_size(params, budget[0])
    if method in _REFUSED:
        error = RestError("Method is not allowed for batch usage", "ERROR_BATCH_METHOD_NOT_ALLOWED")
        return CallOutcome(error=error)
    return execute(method, params)


def run_batch(params: Mapping[str, Any], execute: Execute) -> dict[str, Any]:
    """Run a batch; `execute(method, params)` runs one command with the parent's auth.

    Returns:
        The batch method's `result` object.

    Raises:
        AnswerTooLarge: When the commands' parameters and results pass `MAX_ANSWER_BYTES`.
    """
    budget = [MAX_ANSWER_BYTES]
    upper = {str(key).upper(): value for key, value in params.items()}
    halt = to_bool(upper.get("HALT"))
    results: dict[str, dict[Any, Any]] = {
        "result": {},
        "next": {},
        "total": {},
        "time": {},
        "error": {},
    }
    for count, (key, call) in enumerate(_commands(upper.get("CMD")), start=1):
        if count > MAX_COMMANDS:
            error = RestError("Max batch length exceeded", "ERROR_BATCH_LENGTH_EXCEEDED")
            outcome = CallOutcome(error=error)
        elif not isinstance(call, str):
            continue
        else:
            outcome = _run_one(call, results, execute, budget)
        if outcome.error is not None:
            results["error"][key] = outcome.error.body()
            if halt:
                break
            continue
        budget[0] -= json_size(outcome.result, budget[0])
        results["result"][key] = outcome.result
        if outcome.next is not None:
            results["next"][key] = outcome.next
        if outcome.total is not None:
            results["total"][key] = outcome.total
        results["time"][key] = outcome.time
    return {
        "result": json_shape(results["result"]),
        "result_error": json_shape(results["error"]),
        "result_total": json_shape(results["total"]),
        "result_next": json_shape(results["next"]),
        "result_time": json_shape(results["time"]),
    }
