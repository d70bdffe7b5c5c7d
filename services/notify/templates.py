"""Reporter-safe feedback messages (反馈), in Chinese (default) and English.

The inputs hold nothing that identifies anyone: a short clue reference, a time, and for a
closed case the disposition, outcomes and the cadre's reporter_summary. The summary is
untrusted free text: it is cleaned, capped and inserted as a value, never as template text.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from babel.dates import format_datetime

from shared.i18n import LANGS, N_, gettext_in

# Reporters read times in China Standard Time (北京时间), whatever offset the event carried.
from shared.times import CHINA_TIME as DISPLAY_TZ
from shared.vocabulary import DISPOSITION_LABELS, OUTCOME_LABELS

KINDS = (
    "received",
    "accepted",
    "reviewing",
    "transferred",
    "supervised",
    "closed",
    "still_handling",
)
DEFAULT_LANG = "zh"

SUMMARY_MAX_CHARS = 2000
TEXT_MAX_CHARS = 4000
SMS_MAX_CHARS = 300
ELLIPSIS = "…"

_CLUE_REF = re.compile(r"^[A-Za-z0-9]{4,12}$")
_CLUE_REF_LEN = 8
# Bidirectional overrides and isolates can make text display differently from what it is.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")

# The texts are Chinese, marked for the catalog (shared/i18n.py); English is in its .po file.
_SUBJECTS = {
    "received": N_("您反映的问题线索已收到（编号 {ref}）"),
    "accepted": N_("您反映的问题线索已受理（编号 {ref}）"),
    "reviewing": N_("您对办理结果的异议已受理，正在复查（编号 {ref}）"),
    "transferred": N_("您反映的问题线索已转上级办理（编号 {ref}）"),
    "supervised": N_("您反映的问题线索已列入上级重点督办（编号 {ref}）"),
    "closed": N_("您反映的问题线索已办结（编号 {ref}）"),
    "still_handling": N_("您反映的问题线索仍在办理中（编号 {ref}）"),
}

_BODIES = {
    "received": N_("您反映的问题线索（编号 {ref}）已于{at}收到。我们将依规依纪依法处理，"
                   "并对您的身份和反映内容严格保密。"),
    "accepted": N_("您反映的问题线索（编号 {ref}）已于{at}受理，并已交承办单位办理。"),
    "reviewing": N_("您对问题线索（编号 {ref}）办理结果提出的异议已于{at}受理，"
                    "办理结果正在复查，复查结束后我们将告知您复查结果。"),
    "transferred": N_("您反映的问题线索（编号 {ref}）已于{at}转上级纪检监察机关办理（提级直查）。"),
    "supervised": N_("您反映的问题线索（编号 {ref}）已于{at}列入上级纪检监察机关重点督办，"
                     "由上级机关督促限期办结。"),
    "closed": N_("您反映的问题线索（编号 {ref}）已于{at}办结。"),
    "still_handling": N_("您反映的问题线索（编号 {ref}）仍在办理中（截至{at}）。"
                         "办结后我们将及时告知您处理结果。"),
}

_LABELS = {
    "disposition": N_("处置方式"),
    "outcomes": N_("处理结果"),
    "summary": N_("办理情况"),
    "footer": N_("如需补充情况或对处理结果有异议，请凭查询码查询或留言。"
                 "本消息由系统自动发送，请勿直接回复。"),
    "sep": N_("；"),
    "colon": N_("："),
    "sms_prefix": N_("【纪委监委】"),
}


@dataclass(frozen=True)
class Message:
    """One rendered feedback message; `sms` is the short variant (at most SMS_MAX_CHARS)."""

    subject: str
    text: str
    html: str
    sms: str = ""


def short_clue_ref(clue_id: str) -> str:
    """The short, non-identifying reference shown to a reporter: the clue id's last 8 chars.

    Never derive it from the receipt code: the receipt is a secret of the reporter.
    """
    tail = "".join(ch for ch in clue_id if ch.isascii() and ch.isalnum())[-_CLUE_REF_LEN:]
    if len(tail) < 4:
        raise ValueError("clue id too short for a reference")
    return tail.upper()


def clean_summary(summary: str | None, limit: int = SUMMARY_MAX_CHARS) -> str:
    """Untrusted free text made safe to show: control chars removed, at most `limit` chars.

    Newlines are kept (collapsed to at most one blank line), tabs become spaces; the result
    is plain text and still needs HTML escaping for HTML output.
    """
    if not summary:
        return ""
    text = unicodedata.normalize("NFC", str(summary))
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n")
    kept = []
    for ch in text:
        if ch == "\n":
            kept.append(ch)
        elif ch in _BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn"):
            continue
        else:
            kept.append(ch)
    text = re.sub(r"\n{3,}", "\n\n", "".join(kept)).strip()
    return _cap(text, limit)


def render(
    kind: str,
    lang: str = DEFAULT_LANG,
    *,
    clue_ref: str,
    at: datetime,
    reporter_summary: str | None = None,
    outcomes: Iterable[str] = (),
    disposition: str | None = None,
) -> Message:
    """Render one reporter-safe message of `kind` in `lang`.

    reporter_summary, outcomes and disposition are used only by kind "closed". Raises
    ValueError for an unknown kind, language, outcome or disposition code, a malformed
    clue_ref or a naive `at`. The text is at most TEXT_MAX_CHARS characters.
    """
    _check(kind, lang, clue_ref, at)
    lines = _body_lines(kind, lang, clue_ref, at, reporter_summary, outcomes, disposition)
    subject = gettext_in(lang, _SUBJECTS[kind]).format(ref=clue_ref)
    footer = _label_in(lang, "footer")
    text = _cap("\n\n".join([*lines, footer]), TEXT_MAX_CHARS)
    joined = " ".join(" ".join(line.split()) for line in lines)
    sms = _cap(_label_in(lang, "sms_prefix") + joined, SMS_MAX_CHARS)
    return Message(subject=subject, text=text, html=_html(subject, lines, footer, lang), sms=sms)


def _check(kind: str, lang: str, ref: str, at: datetime) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown message kind: {kind!r}")
    if lang not in LANGS:
        raise ValueError(f"unknown language: {lang!r}")
    if not isinstance(ref, str) or not _CLUE_REF.match(ref):
        raise ValueError("clue_ref must be 4 to 12 ASCII letters or digits")
    if not isinstance(at, datetime) or at.utcoffset() is None:
        raise ValueError("at must be a timezone-aware datetime")


def _body_lines(
    kind: str,
    lang: str,
    ref: str,
    at: datetime,
    reporter_summary: str | None,
    outcomes: Iterable[str],
    disposition: str | None,
) -> list[str]:
    # Only our own constant templates go through str.format; untrusted text is only ever
    # a value, and str.format never interprets the values it substitutes.
    lines = [gettext_in(lang, _BODIES[kind]).format(ref=ref, at=_format_at(at, lang))]
    if kind != "closed":
        return lines
    colon = _label_in(lang, "colon")
    if disposition is not None:
        label = _code_label(DISPOSITION_LABELS, disposition, lang)
        lines.append(_label_in(lang, "disposition") + colon + label)
    outcome_labels = [_code_label(OUTCOME_LABELS, code, lang) for code in outcomes]
    if outcome_labels:
        lines.append(_label_in(lang, "outcomes") + colon + _label_in(lang, "sep").join(outcome_labels))
    summary = clean_summary(reporter_summary)
    if summary:
        lines.append(_label_in(lang, "summary") + colon + summary)
    return lines


def _label_in(lang: str, name: str) -> str:
    return gettext_in(lang, _LABELS[name])


def _code_label(table: dict[str, str], code: str, lang: str) -> str:
    try:
        return gettext_in(lang, table[code])
    except (KeyError, TypeError):
        raise ValueError(f"unknown code: {code!r}") from None


# A time's shape is a text of the catalog too: a CLDR date pattern (Babel's), Chinese in the code.
_AT_PATTERN = N_("y年M月d日 HH:mm")


def _format_at(at: datetime, lang: str) -> str:
    return format_datetime(at, gettext_in(lang, _AT_PATTERN), tzinfo=DISPLAY_TZ, locale=lang)


def _html(subject: str, lines: list[str], footer: str, lang: str) -> str:
    paragraphs = "".join(
        "<p>" + html.escape(line, quote=True).replace("\n", "<br>") + "</p>" for line in lines
    )
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head><body>{paragraphs}"
        f'<p style="color:#666">{html.escape(footer)}</p></body></html>'
    )


def _cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS
