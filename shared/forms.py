"""Errors of a server-rendered form, shaped for accessible pages, in the page's language."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# marshmallow's messages (and the schemas' own) as a Chinese page shows them.
_ZH_ERRORS: dict[str, str] = {
    "Missing data for required field.": "此项为必填项。",
    "Not a valid list.": "请从列表中选择。",
    "Not a valid string.": "请填写文字。",
    "Not a valid email address.": "请填写有效的电子邮箱地址。",
    "Not a valid integer.": "请填写整数。",
    "Not a valid date.": "请填写有效的日期，例如 2024-05-31。",
    "Must not be in the future.": "日期不能晚于今天。",
    "Not allowed for an anonymous reporter.": "匿名举报时不能填写此项。",
    "Must be + followed by 6 to 20 digits, e.g. +8613800000000.": "请填写有效的手机号码，例如 13800000000。",
}
Patterns = Sequence[tuple[re.Pattern[str], str]]
_ZH_PATTERNS: Patterns = [
    (re.compile(r"Length must be between 1 and (\d+)\."), "此项为必填项，最多 {0} 字。"),
    (re.compile(r"Length must be between (\d+) and (\d+)\."), "长度应为 {0} 至 {1} 字。"),
    (re.compile(r"Longer than maximum length (\d+)\."), "最多 {0} 字。"),
    (re.compile(r"Must be greater than or equal to (\d+) and less than or equal to (\d+)\."),
     "应在 {0} 至 {1} 之间。"),
    (re.compile(r"Must be one of: .*"), "请从列表中选择。"),
    (re.compile(r"Must be a lowercase path .*"), "请从列表中选择。"),
    (re.compile(r"Required for channel .*"), "请填写与所选反馈方式对应的联系方式。"),
]


def error_text(message: str, lang: str = "zh", first: Patterns = ()) -> str:
    """A schema error message in the page's language: English ones are the schema's own, a
    Chinese page's come from the table above (`first`, a page's own wording, wins); a message
    the table lacks is shown as it is."""
    if lang != "zh":
        return message
    if message in _ZH_ERRORS:
        return _ZH_ERRORS[message]
    for pattern, text in [*first, *_ZH_PATTERNS]:
        match = pattern.fullmatch(message)
        if match:
            return text.format(*match.groups())
    return message


@dataclass
class FormErrors:
    """Errors of one form: by input id (next to the field) and in order (the summary at the top)."""

    by_input: dict[str, list[str]]
    summary: list[tuple[str, str, str]]  # (input id, field label, message)

    def __bool__(self) -> bool:
        return bool(self.summary)
