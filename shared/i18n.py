"""The project's message catalog: Chinese in the code, other languages in gettext catalogs.

Every text shown to people is written in Chinese (the campaign's language, and the default one) and
marked with `N_` where it is defined; `shared/translations/<lang>/LC_MESSAGES/messages.po` holds its
translation. The .po files are the only ones kept: each is compiled in memory the first time a
process asks for its language, so no compiled file can be stale or forgotten.
`make catalogs` extracts the marked texts and updates the .po files after a change;
tests/unit/test_catalogs.py fails on a marked text with no translation.
"""

from __future__ import annotations

from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

CATALOG_DIR = Path(__file__).with_name("translations")
SOURCE_LANG = "zh"
LANGS = ("zh", "en")


def N_(text: str) -> str:  # gettext's name for "mark for extraction, translate later"
    """Marks a text for the catalog where it is defined; `gettext` translates it where it is shown."""
    return text


def catalog_path(lang: str) -> Path:
    return CATALOG_DIR / lang / "LC_MESSAGES" / "messages.po"


@cache
def translations(lang: str) -> NullTranslations:
    """The compiled catalog of `lang`; Chinese, the language of the code, needs none. Babel's
    translation classes, so Flask-Babel (shared/catalogs.py) serves the same objects in requests."""
    if lang not in LANGS:
        raise ValueError(f"unknown language: {lang!r}")
    if lang == SOURCE_LANG:
        return NullTranslations()
    with catalog_path(lang).open("rb") as po:
        catalog = read_po(po, locale=lang)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain="messages")


def gettext_in(lang: str, text: str) -> str:
    """`text` (Chinese, as written in the code) in `lang`."""
    return translations(lang).gettext(text)
