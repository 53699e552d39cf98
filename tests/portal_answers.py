"""The portal's answers for each route and condition, as the spec tables give them."""

from __future__ import annotations

from typing import Any

TIME = {
    "start": 1705764932.998683,
    "finish": 1705764937.173995,
    "duration": 4.1753120422363281,
    "processing": 3.3076529502868652,
    "date_start": "2024-01-20T18:35:32+01:00",
    "date_finish": "2024-01-20T18:35:37+01:00",
    "operating_reset_at": 1705765533,
    "operating": 3.3076241016387939,
}


def error(code: Any, text: str) -> dict[str, Any]:
    return {"error": code, "error_description": text}


# condition -> route -> (status, body)
ANSWERS: dict[str, dict[str, tuple[int, dict[str, Any]]]] = {
    "deleted": {
        "legacy": (200, {"result": True, "time": TIME}),
        "item": (200, {"result": [], "time": TIME}),
    },
    "not_found": {
        "legacy": (400, error("ERROR_CORE", "Item not found")),
        "item": (400, error("NOT_FOUND", "Item not found")),
    },
    "access_denied": {
        "legacy": (400, error("", "Access denied.")),
        "item": (403, error("ACCESS_DENIED", "Access denied")),
    },
    "invalid_id": {
        "legacy": (400, error("", "ID is not defined or invalid.")),
        "item": (
            400,
            error(
                "100",
                "Invalid value {abc} to match with parameter {id}. Should be value of type int.",
            ),
        ),
    },
}


def batch_answer(results: dict[str, Any], errors: dict[str, Any]) -> dict[str, Any]:
    """A batch answer as the portal sends it (PHP sends an empty map as a list)."""
    return {
        "result": {
            "result": results or [],
            "result_error": errors or [],
            "result_total": [],
            "result_next": [],
            "result_time": dict.fromkeys(results, TIME) or [],
        },
        "time": TIME,
    }
