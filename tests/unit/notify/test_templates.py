import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notify.templates import (
    DISPOSITION_LABELS,
    ELLIPSIS,
    KINDS,
    LANGS,
    OUTCOME_LABELS,
    SMS_MAX_CHARS,
    SUMMARY_MAX_CHARS,
    TEXT_MAX_CHARS,
    Message,
    clean_summary,
    render,
    short_clue_ref,
)
from shared.i18n import gettext_in

AT = datetime(2024, 3, 1, 2, 5, tzinfo=UTC)
REF = "7QXM2H8D"
ALL_OUTCOMES = tuple(OUTCOME_LABELS)

HOSTILE = [
    ("script", "<script>alert('x')</script> & \"quoted\""),
    ("format_attr", "{0.__class__}"),
    ("format_named", "{ref} {at} {self}"),
    ("dollar", "${x} $x"),
    ("jinja", "{{7*7}} {% if 1 %}yes{% endif %}"),
    ("percent", "%(x)s %s %d"),
    ("controls", "a\x00b\x07c\x1b[31md\x7f\u202eevil\u2066"),
    ("huge", "长" * 100_000),
]

ALLOWED_TAGS = {"html", "head", "meta", "title", "body", "p", "br"}


class _TagCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = set()
        self.attrs = []
        self.data = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data):
        self.data.append(data)


def _closed(lang, summary, **kw):
    return render(
        "closed",
        lang,
        clue_ref=REF,
        at=AT,
        reporter_summary=summary,
        outcomes=kw.get("outcomes", ("admonition_talk", "restitution", "reassigned")),
        disposition=kw.get("disposition", "preliminary_verification"),
    )


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_in_every_language(kind, lang):
    message = render(kind, lang, clue_ref=REF, at=AT)
    assert isinstance(message, Message)
    assert REF in message.subject and REF in message.text and REF in message.html
    assert REF in message.sms
    assert len(message.text) <= TEXT_MAX_CHARS
    assert len(message.sms) <= SMS_MAX_CHARS
    assert "\n" not in message.subject
    assert message.html.startswith("<!DOCTYPE html>")
    if lang == "zh":
        assert "2024年3月1日 10:05" in message.text  # shown in Beijing time
    else:
        assert "2024-03-01 10:05 (UTC+08:00)" in message.text


@pytest.mark.parametrize(
    ("kind", "zh", "en"),
    [
        ("received", "已收到", "received"),
        ("accepted", "受理", "accepted"),
        ("transferred", "提级直查", "investigates it directly"),
        ("supervised", "重点督办", "supervision"),
        ("closed", "办结", "concluded"),
        ("still_handling", "仍在办理中", "still being handled"),
    ],
)
def test_each_kind_says_what_it_is_for(kind, zh, en):
    for lang, phrase in (("zh", zh), ("en", en)):
        message = render(kind, lang, clue_ref=REF, at=AT)
        assert phrase in message.subject + message.text


def test_default_language_is_chinese():
    assert render("received", clue_ref=REF, at=AT) == render("received", "zh", clue_ref=REF, at=AT)


def test_kinds_have_distinct_texts():
    for lang in LANGS:
        texts = {render(kind, lang, clue_ref=REF, at=AT).text for kind in KINDS}
        assert len(texts) == len(KINDS)


@pytest.mark.parametrize("lang", LANGS)
def test_closed_shows_disposition_outcomes_and_summary(lang):
    message = _closed(lang, "经核实，反映问题基本属实。", outcomes=ALL_OUTCOMES)
    for code in ALL_OUTCOMES:
        assert gettext_in(lang, OUTCOME_LABELS[code]) in message.text
        assert gettext_in(lang, OUTCOME_LABELS[code]) in message.html
        assert code not in message.text.replace(gettext_in(lang, OUTCOME_LABELS[code]), "")
    assert gettext_in(lang, DISPOSITION_LABELS["preliminary_verification"]) in message.text
    assert "经核实，反映问题基本属实。" in message.text
    assert "经核实，反映问题基本属实。" in message.html


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("disposition", list(DISPOSITION_LABELS))
def test_every_disposition_has_a_label(lang, disposition):
    message = _closed(lang, None, disposition=disposition, outcomes=())
    assert gettext_in(lang, DISPOSITION_LABELS[disposition]) in message.text


def test_closed_without_disposition_outcomes_or_summary_still_renders():
    message = render("closed", "en", clue_ref=REF, at=AT)
    assert "Disposition" not in message.text
    assert "Outcome" not in message.text
    assert "Summary" not in message.text


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("name", "summary"), HOSTILE)
def test_hostile_summary_is_literal_escaped_and_capped(lang, name, summary):
    message = _closed(lang, summary)
    cleaned = clean_summary(summary)
    assert cleaned in message.text
    assert len(message.text) <= TEXT_MAX_CHARS
    assert len(message.sms) <= SMS_MAX_CHARS
    assert "<script" not in message.html
    assert "<class" not in message.text and "<class" not in message.html
    assert "49" not in message.text
    for ch in message.text + message.html + message.sms:
        assert ch == "\n" or unicodedata.category(ch) != "Cc", repr(ch)
    assert "\u202e" not in message.text and "\u2066" not in message.text
    parser = _TagCollector()
    parser.feed(message.html)
    assert parser.tags <= ALLOWED_TAGS
    assert cleaned.replace("\n", "") in "".join(parser.data).replace("\n", "")


@pytest.mark.parametrize(
    ("summary", "literal"),
    [
        ("{0.__class__}", "{0.__class__}"),
        ("${x}", "${x}"),
        ("{{7*7}}", "{{7*7}}"),
        ("%(x)s", "%(x)s"),
        ("{ref}", "{ref}"),
    ],
)
def test_template_syntax_in_summary_comes_out_literally(summary, literal):
    for lang in LANGS:
        message = _closed(lang, summary)
        assert literal in message.text
        assert literal in message.html
        assert literal in message.sms


def test_html_in_summary_is_escaped():
    message = _closed("zh", "<img src=x onerror=alert(1)> & \"'")
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;&#x27;" in message.html
    assert "<img" not in message.html
    assert "<img src=x onerror=alert(1)> & \"'" in message.text


def test_huge_summary_is_capped_with_ellipsis():
    cleaned = clean_summary("x" * 100_000)
    assert len(cleaned) == SUMMARY_MAX_CHARS
    assert cleaned.endswith(ELLIPSIS)
    message = _closed("en", "x" * 100_000)
    assert "x" * (SUMMARY_MAX_CHARS - 1) in message.text
    assert "x" * SUMMARY_MAX_CHARS not in message.text
    assert message.sms.endswith(ELLIPSIS) and len(message.sms) == SMS_MAX_CHARS


def test_clean_summary_keeps_newlines_and_drops_controls():
    assert clean_summary("a\r\nb\tc\x00d\n\n\n\ne") == "a\nb cd\n\ne"
    assert clean_summary("a\u2028b\u2029c") == "a\nb\nc"
    assert clean_summary(None) == ""
    assert clean_summary("  ") == ""


def test_summary_is_used_only_when_closed():
    for kind in KINDS:
        if kind == "closed":
            continue
        message = render(kind, "zh", clue_ref=REF, at=AT, reporter_summary="SECRET-NOTE")
        assert "SECRET-NOTE" not in message.text + message.html + message.sms


NAMES_ELSEWHERE = [
    "许某",  # subject
    "王某",  # reporter
    "+8613800000000",
    "wang@example.org",
    "https://hooks.example.org/x",
    "cadre-0042",
    "陈科长",  # a cadre
    "foshan/chancheng/shiwan",
    "石湾",
    "4F7K-9QXM-2H8D-T6WB",  # a receipt code
    "纪工委",  # a handling unit's name
]


@pytest.mark.parametrize("lang", LANGS)
def test_no_output_contains_names_from_elsewhere(lang):
    for kind in KINDS:
        message = render(
            kind,
            lang,
            clue_ref=REF,
            at=AT,
            reporter_summary="办理完毕。",
            outcomes=ALL_OUTCOMES,
            disposition="concluded",
        )
        everything = message.subject + message.text + message.html + message.sms
        for name in NAMES_ELSEWHERE:
            assert name not in everything


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"kind": "rejected"}, "kind"),
        ({"lang": "fr"}, "language"),
        ({"clue_ref": "4F7K-9QXM"}, "clue_ref"),
        ({"clue_ref": "ab"}, "clue_ref"),
        ({"clue_ref": "A" * 13}, "clue_ref"),
        ({"at": datetime(2024, 3, 1, 2, 5)}, "timezone"),
        ({"outcomes": ["beheaded"]}, "code"),
        ({"disposition": "lost"}, "code"),
    ],
)
def test_bad_input_is_a_value_error(kwargs, fragment):
    args = {"kind": "closed", "lang": "zh", "clue_ref": REF, "at": AT, **kwargs}
    kind, lang = args.pop("kind"), args.pop("lang")
    with pytest.raises(ValueError, match=fragment):
        render(kind, lang, **args)


def test_any_offset_is_shown_in_beijing_time():
    at = datetime(2024, 3, 1, 3, 5, tzinfo=timezone(timedelta(hours=3)))
    assert "2024年3月1日 08:05" in render("received", "zh", clue_ref=REF, at=at).text
    assert "2024-03-01 08:05 (UTC+08:00)" in render("received", "en", clue_ref=REF, at=at).text


@pytest.mark.parametrize(
    ("clue_id", "ref"),
    [
        ("01HV5Z3K8Q9XJ7M2C4N6P8R0TA", "N6P8R0TA"),
        ("01hv5z3k8q9xj7m2c4n6p8r0ta", "N6P8R0TA"),
        ("abcd", "ABCD"),
    ],
)
def test_short_clue_ref_is_the_clue_ids_suffix(clue_id, ref):
    assert short_clue_ref(clue_id) == ref
    render("received", clue_ref=short_clue_ref(clue_id), at=AT)


def test_short_clue_ref_refuses_too_short_ids():
    with pytest.raises(ValueError):
        short_clue_ref("a-b")


@given(st.text(max_size=3000))
def test_any_summary_renders_within_caps_and_without_markup(summary):
    for lang in LANGS:
        message = _closed(lang, summary)
        assert len(message.text) <= TEXT_MAX_CHARS
        assert len(message.sms) <= SMS_MAX_CHARS
        assert clean_summary(summary) in message.text
        parser = _TagCollector()
        parser.feed(message.html)
        assert parser.tags <= ALLOWED_TAGS
