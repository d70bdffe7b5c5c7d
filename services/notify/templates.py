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

# Reporters read times in China Standard Time (北京时间), whatever offset the event carried.
from shared.times import CHINA_TIME as DISPLAY_TZ

KINDS = (
    "received",
    "accepted",
    "reviewing",
    "transferred",
    "supervised",
    "closed",
    "still_handling",
)
LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

SUMMARY_MAX_CHARS = 2000
TEXT_MAX_CHARS = 4000
SMS_MAX_CHARS = 300
ELLIPSIS = "…"

_CLUE_REF = re.compile(r"^[A-Za-z0-9]{4,12}$")
_CLUE_REF_LEN = 8
# Bidirectional overrides and isolates can make text display differently from what it is.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")

DISPOSITION_LABELS: dict[str, dict[str, str]] = {
    "talk_inquiry": {"zh": "谈话函询", "en": "talk and written inquiry"},
    "preliminary_verification": {"zh": "初步核实", "en": "preliminary verification"},
    "shelved": {"zh": "暂存待查", "en": "kept on file for later examination"},
    "concluded": {"zh": "予以了结", "en": "concluded"},
    "transferred": {"zh": "移送有关单位", "en": "transferred to the competent body"},
}

OUTCOME_LABELS: dict[str, dict[str, str]] = {
    "unfounded": {"zh": "查无实据", "en": "no evidence found"},
    "reminder_talk": {"zh": "提醒谈话", "en": "reminder talk"},
    "admonition_talk": {"zh": "诫勉谈话", "en": "admonition talk"},
    "reassigned": {"zh": "调离岗位", "en": "removed from post"},
    "restitution": {"zh": "责令退还", "en": "ordered to return the money or goods"},
    "party_discipline": {"zh": "党纪处分", "en": "party disciplinary sanction"},
    "administrative_sanction": {"zh": "政务处分", "en": "administrative sanction"},
    "prosecution": {"zh": "移送司法机关", "en": "referred to the judicial authorities"},
    "cleared": {"zh": "澄清正名", "en": "the person concerned was cleared"},
}

_SUBJECTS = {
    "zh": {
        "received": "您反映的问题线索已收到（编号 {ref}）",
        "accepted": "您反映的问题线索已受理（编号 {ref}）",
        "reviewing": "您对办理结果的异议已受理，正在复查（编号 {ref}）",
        "transferred": "您反映的问题线索已转上级办理（编号 {ref}）",
        "supervised": "您反映的问题线索已列入上级重点督办（编号 {ref}）",
        "closed": "您反映的问题线索已办结（编号 {ref}）",
        "still_handling": "您反映的问题线索仍在办理中（编号 {ref}）",
    },
    "en": {
        "received": "Your report has been received (ref. {ref})",
        "accepted": "Your report has been accepted (ref. {ref})",
        "reviewing": "The result of your report is being reviewed (ref. {ref})",
        "transferred": "Your report has been passed to a higher level (ref. {ref})",
        "supervised": "Your report is under a higher level's supervision (ref. {ref})",
        "closed": "Your report has been concluded (ref. {ref})",
        "still_handling": "Your report is still being handled (ref. {ref})",
    },
}

_BODIES = {
    "zh": {
        "received": "您反映的问题线索（编号 {ref}）已于{at}收到。我们将依规依纪依法处理，"
        "并对您的身份和反映内容严格保密。",
        "accepted": "您反映的问题线索（编号 {ref}）已于{at}受理，并已交承办单位办理。",
        "reviewing": "您对问题线索（编号 {ref}）办理结果提出的异议已于{at}受理，"
        "办理结果正在复查，复查结束后我们将告知您复查结果。",
        "transferred": "您反映的问题线索（编号 {ref}）已于{at}转上级纪检监察机关办理（提级直查）。",
        "supervised": "您反映的问题线索（编号 {ref}）已于{at}列入上级纪检监察机关重点督办，"
        "由上级机关督促限期办结。",
        "closed": "您反映的问题线索（编号 {ref}）已于{at}办结。",
        "still_handling": "您反映的问题线索（编号 {ref}）仍在办理中（截至{at}）。"
        "办结后我们将及时告知您处理结果。",
    },
    "en": {
        "received": "Your report (ref. {ref}) was received on {at}. It will be handled "
        "according to the rules, and your identity and what you reported are kept "
        "strictly confidential.",
        "reviewing": "Your objection to the result of your report (ref. {ref}) was accepted on "
        "{at}: the result is being reviewed, and we will tell you the outcome of the review.",
        "accepted": "Your report (ref. {ref}) was accepted on {at} and passed to the "
        "handling unit.",
        "transferred": "Your report (ref. {ref}) was passed on {at} to the discipline "
        "inspection body at the next level up, which investigates it directly.",
        "supervised": "Since {at}, your report (ref. {ref}) has been under the supervision "
        "of the discipline inspection body at the next level up, which sees that it is "
        "closed within a deadline.",
        "closed": "Your report (ref. {ref}) was concluded on {at}.",
        "still_handling": "Your report (ref. {ref}) is still being handled (as of {at}). "
        "We will tell you the result once it is concluded.",
    },
}

_LABELS = {
    "zh": {
        "disposition": "处置方式",
        "outcomes": "处理结果",
        "summary": "办理情况",
        "footer": "如需补充情况或对处理结果有异议，请凭查询码查询或留言。"
        "本消息由系统自动发送，请勿直接回复。",
        "sep": "；",
        "colon": "：",
    },
    "en": {
        "disposition": "Disposition",
        "outcomes": "Outcome",
        "summary": "Summary",
        "footer": "To add information or object to the result, use your receipt code. "
        "This message was sent automatically; please do not reply to it.",
        "sep": "; ",
        "colon": ": ",
    },
}

_SMS_PREFIX = {"zh": "【纪委监委】", "en": "[Discipline Inspection] "}


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
    subject = _SUBJECTS[lang][kind].format(ref=clue_ref)
    footer = _LABELS[lang]["footer"]
    text = _cap("\n\n".join([*lines, footer]), TEXT_MAX_CHARS)
    return Message(
        subject=subject,
        text=text,
        html=_html(subject, lines, footer, lang),
        sms=render_sms(
            kind,
            lang,
            clue_ref=clue_ref,
            at=at,
            reporter_summary=reporter_summary,
            outcomes=outcomes,
            disposition=disposition,
        ),
    )


def render_sms(
    kind: str,
    lang: str = DEFAULT_LANG,
    *,
    clue_ref: str,
    at: datetime,
    reporter_summary: str | None = None,
    outcomes: Iterable[str] = (),
    disposition: str | None = None,
) -> str:
    """The same message as one plain line of at most SMS_MAX_CHARS characters."""
    _check(kind, lang, clue_ref, at)
    lines = _body_lines(kind, lang, clue_ref, at, reporter_summary, outcomes, disposition)
    joined = " ".join(" ".join(line.split()) for line in lines)
    return _cap(_SMS_PREFIX[lang] + joined, SMS_MAX_CHARS)


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
    lines = [_BODIES[lang][kind].format(ref=ref, at=_format_at(at, lang))]
    if kind != "closed":
        return lines
    labels = _LABELS[lang]
    if disposition is not None:
        label = _label(DISPOSITION_LABELS, disposition, lang)
        lines.append(labels["disposition"] + labels["colon"] + label)
    outcome_labels = [_label(OUTCOME_LABELS, code, lang) for code in outcomes]
    if outcome_labels:
        lines.append(labels["outcomes"] + labels["colon"] + labels["sep"].join(outcome_labels))
    summary = clean_summary(reporter_summary)
    if summary:
        lines.append(labels["summary"] + labels["colon"] + summary)
    return lines


def _label(table: dict[str, dict[str, str]], code: str, lang: str) -> str:
    try:
        return table[code][lang]
    except (KeyError, TypeError):
        raise ValueError(f"unknown code: {code!r}") from None


def _format_at(at: datetime, lang: str) -> str:
    local = at.astimezone(DISPLAY_TZ)
    if lang == "zh":
        return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
    return f"{local:%Y-%m-%d %H:%M} (UTC+08:00)"


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
