"""The message catalogs (shared/i18n.py) cover every text the code marks, and say the same."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from services.notify import templates
from shared import i18n
from shared.vocabulary import DISPOSITIONS, OUTCOMES

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = [lang for lang in i18n.LANGS if lang != i18n.SOURCE_LANG]
PLACEHOLDER = re.compile(r"\{(\w*)\}")
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def marked_texts() -> set[str]:
    method_map = [("services/**.py", "python"), ("shared/**.py", "python")]
    found = extract_from_dir(str(ROOT), method_map, keywords={"N_": None})
    return {message for _file, _line, message, _comments, _context in found}


def catalog(lang: str) -> dict[str, str]:
    with i18n.catalog_path(lang).open("rb") as po:
        parsed = read_po(po, locale=lang)
    assert not [m.id for m in parsed if m.id and m.fuzzy], "fuzzy entries are not translations yet"
    return {m.id: m.string for m in parsed if m.id}


def test_the_marker_finds_the_texts_of_notify_and_the_vocabulary():
    marked = marked_texts()
    assert "您反映的问题线索已受理（编号 {ref}）" in marked and "诫勉谈话" in marked
    assert len(marked) >= 30


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_marked_text_has_a_translation_and_the_catalog_nothing_else(lang):
    entries = catalog(lang)
    marked = marked_texts()
    assert sorted(marked - {k for k, v in entries.items() if v}) == [], "run `make catalogs` and translate"
    assert sorted(set(entries) - marked) == [], "texts no longer in the code: run `make catalogs`"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_a_translation_keeps_the_placeholders_of_its_text(lang):
    for text, translated in catalog(lang).items():
        assert sorted(PLACEHOLDER.findall(translated)) == sorted(PLACEHOLDER.findall(text)), text


def test_chinese_is_the_code_itself_and_an_unknown_language_is_refused():
    assert i18n.gettext_in("zh", "诫勉谈话") == "诫勉谈话"
    assert i18n.gettext_in("en", "诫勉谈话") == "admonition talk"
    with pytest.raises(ValueError, match="unknown language"):
        i18n.translations("fr")


def test_every_notify_message_in_english_has_no_chinese_left():
    at = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
    for kind in templates.KINDS:
        message = templates.render(kind, "en", clue_ref="AB12CD34", at=at, outcomes=OUTCOMES,
                                   disposition=DISPOSITIONS[0], reporter_summary="done")
        for text in (message.subject, message.text, message.sms):
            assert not CJK.search(text), (kind, text)
    closed = [templates.render("closed", "en", clue_ref="AB12CD34", at=at, disposition=d).text
              for d in DISPOSITIONS]
    assert len(set(closed)) == len(DISPOSITIONS)
