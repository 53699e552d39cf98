"""`RestError`: a failed method call, and the portal's localized texts."""

from __future__ import annotations

__all__ = ["LANGUAGES", "RestError", "localized"]

LANGUAGES = ("en", "ru")

# Loc messages that depend on the portal language (spec 2.4, 3.4, 8: the legacy proxy's own
# messages are hard-coded English and are not listed here).
_TEXTS: dict[str, dict[str, str]] = {
    "item_not_found": {"en": "Item not found", "ru": "Элемент не найден"},
    "access_denied": {"en": "Access denied", "ru": "Доступ запрещен"},
    "type_not_found": {"en": "SPA not found", "ru": "Смарт-процесс не найден"},
    "intranet_only": {
        "en": "Action is allowed only to intranet users",
        "ru": "Действие доступно только пользователям интранета",
    },
}


def localized(key: str, language: str) -> str:
    """Return the text `key` in `language` (English when the language has no text)."""
    texts = _TEXTS[key]
    return texts.get(language, texts["en"])


class RestError(Exception):
    """A method call that failed: the portal answers `{"error": code, "error_description": ...}`.

    Args:
        description: The `error_description`.
        code: The `error` value: a string, or an int for old portals' binder code `100`.
        status: The HTTP status (a RestException built without one is 400, spec 1.3).
    """

    def __init__(self, description: str, code: str | int = "", status: int = 400) -> None:
        super().__init__(description)
        self.description = description
        self.code = code
        self.status = status

    def body(self) -> dict[str, object]:
        """Return the JSON error body."""
        return {"error": self.code, "error_description": self.description}

    def __repr__(self) -> str:
        return f"RestError({self.description!r}, code={self.code!r}, status={self.status})"
