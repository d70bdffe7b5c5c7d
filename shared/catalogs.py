"""Flask-Babel on the project's message catalogs: a web app's views and templates translate with
flask_babel's `gettext` / `lazy_gettext` (and Jinja's `_`) in the language its locale selector picks.

The translations are shared/i18n.py's, compiled in memory from the .po files of
shared/translations, so a page and code outside a request (notify's messages, the reporter's
timeline lines, which call `shared.i18n.gettext_in`) read the very same catalogs. Chinese, the
language of the code, is the default.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

from babel.support import NullTranslations
from flask import Flask
from flask_babel import Babel, Domain, get_locale

from shared import i18n


def locale_lang() -> str:
    """The language Flask-Babel chose for this request ("zh" or "en"); Chinese outside one."""
    locale = get_locale()
    lang = locale.language if locale is not None else i18n.SOURCE_LANG
    return lang if lang in i18n.LANGS else i18n.SOURCE_LANG


class CatalogDomain(Domain):
    """The "messages" domain, its translations shared/i18n.py's rather than compiled .mo files."""

    def get_translations(self) -> NullTranslations:
        return i18n.translations(locale_lang())


class CatalogBabel(Babel):
    """Flask-Babel whose default domain is the project's catalogs."""

    @cached_property
    def domain_instance(self) -> Domain:
        return CatalogDomain(translation_directories=[str(i18n.CATALOG_DIR)])


def init_app(app: Flask, locale_selector: Callable[[], str] | None = None) -> Babel:
    """Flask-Babel on `app` (app.extensions["babel"]), its locale from `locale_selector` (one of
    shared.i18n.LANGS), Chinese without one."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", i18n.SOURCE_LANG)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(i18n.CATALOG_DIR))
    babel = CatalogBabel()
    babel.init_app(app, locale_selector=locale_selector)
    return babel
