"""Errors of a server-rendered form, shaped for accessible pages, in the page's language."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from shared.i18n import N_, gettext_in

# marshmallow's messages (and the schemas' own) mapped to the campaign's wording, written in Chinese
# and marked for the catalog (shared/i18n.py), where each one's English is: a Chinese page and an
# English page show the same sentence, each in its language.
_WORDING: dict[str, str] = {
    "Missing data for required field.": N_("此项为必填项。"),
    "Not a valid list.": N_("请从列表中选择。"),
    "Not a valid string.": N_("请填写文字。"),
    "Not a valid email address.": N_("请填写有效的电子邮箱地址。"),
    "Not a valid integer.": N_("请填写整数。"),
    "Not a valid date.": N_("请填写有效的日期，例如 2024-05-31。"),
    "Must not be in the future.": N_("日期不能晚于今天。"),
    "Not allowed for an anonymous reporter.": N_("匿名举报时不能填写此项。"),
    "Must be + followed by 6 to 20 digits, e.g. +8613800000000.":
        N_("请填写有效的手机号码，例如 13800000000。"),
}
Patterns = Sequence[tuple[re.Pattern[str], str]]
_PATTERNS: Patterns = [
    (re.compile(r"Length must be between 1 and (\d+)\."), N_("此项为必填项，最多 {0} 字。")),
    (re.compile(r"Length must be between (\d+) and (\d+)\."), N_("长度应为 {0} 至 {1} 字。")),
    (re.compile(r"Longer than maximum length (\d+)\."), N_("最多 {0} 字。")),
    (re.compile(r"Must be greater than or equal to (\d+) and less than or equal to (\d+)\."),
     N_("应在 {0} 至 {1} 之间。")),
    (re.compile(r"Must be one of: .*"), N_("请从列表中选择。")),
    (re.compile(r"Must be a lowercase path .*"), N_("请从列表中选择。")),
    (re.compile(r"Required for channel .*"), N_("请填写与所选反馈方式对应的联系方式。")),
]


def error_text(message: str, lang: str = "zh", first: Patterns = ()) -> str:
    """A schema error message as a page in `lang` shows it: the campaign's wording of it (`first`,
    a page's own, wins), translated by the catalog; a message with none is shown as it is."""
    if message in _WORDING:
        return gettext_in(lang, _WORDING[message])
    for pattern, text in [*first, *_PATTERNS]:
        match = pattern.fullmatch(message)
        if match:
            return gettext_in(lang, text).format(*match.groups())
    return message


@dataclass
class FormErrors:
    """Errors of one form: by input id (next to the field) and in order (the summary at the top)."""

    by_input: dict[str, list[str]]
    summary: list[tuple[str, str, str]]  # (input id, field label, message)

    def __bool__(self) -> bool:
        return bool(self.summary)
