"""Errors of a server-rendered form, shaped for accessible pages."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FormErrors:
    """Errors of one form: by input id (next to the field) and in order (the summary at the top)."""

    by_input: dict[str, list[str]]
    summary: list[tuple[str, str, str]]  # (input id, field label, message)

    def __bool__(self) -> bool:
        return bool(self.summary)
