"""Flask-Babel on the project's catalogs (shared/catalogs.py): the same translations as shared/i18n.py."""

from flask import Flask, render_template_string, request
from flask_babel import force_locale, gettext, lazy_gettext

from shared import catalogs
from shared.i18n import gettext_in

TEXT = "诫勉谈话"


def make_app() -> Flask:
    app = Flask(__name__)
    catalogs.init_app(app, locale_selector=lambda: request.args.get("lang"))

    @app.get("/")
    def index():
        return {"lang": catalogs.locale_lang(), "text": gettext(TEXT),
                "jinja": render_template_string("{{ _(text) }}", text=TEXT)}

    return app


def test_a_view_and_a_template_translate_in_the_selected_language():
    client = make_app().test_client()
    english = client.get("/?lang=en").json
    assert english == {"lang": "en", "text": "admonition talk", "jinja": "admonition talk"}
    assert english["text"] == gettext_in("en", TEXT)
    assert client.get("/?lang=zh").json == {"lang": "zh", "text": TEXT, "jinja": TEXT}


def test_chinese_without_a_choice_and_outside_a_request():
    assert make_app().test_client().get("/").json["text"] == TEXT
    assert gettext(TEXT) == TEXT and catalogs.locale_lang() == "zh"


def test_force_locale_and_lazy_texts_read_the_same_catalog():
    app = make_app()
    lazy = lazy_gettext(TEXT)
    with app.test_request_context("/?lang=zh"):
        assert str(lazy) == TEXT
        with force_locale("en"):
            assert gettext(TEXT) == "admonition talk" and str(lazy) == "admonition talk"
        assert gettext(TEXT) == TEXT
