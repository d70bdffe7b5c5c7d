"""Intake reads the registry file once at start-up (settings.read_registry); a file it cannot use
stops it with one line naming INTAKE_REGISTRY_FILE, the path and the reason."""

import pytest

from services.intake import page_forms, practice_store
from services.intake.settings import DEFAULT_REGISTRY_FILE, read_registry
from shared.settings import SettingsError


@pytest.mark.parametrize(("content", "reason"), [
    (None, "FileNotFoundError"),
    ("jurisdictions: [unclosed", "ParserError"),
    ("- just\n- a list\n", "not a mapping"),
])
def test_an_unusable_file_names_the_setting_the_path_and_the_reason(tmp_path, content, reason):
    path = tmp_path / "registry.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(SettingsError) as refused:
        read_registry(str(path))
    message = str(refused.value)
    assert message.startswith("INTAKE_REGISTRY_FILE: ") and str(path) in message and reason in message


def test_a_registry_without_codes_is_refused_by_the_pages():
    with pytest.raises(SettingsError, match="INTAKE_REGISTRY_FILE: .*x.yaml: KeyError"):
        page_forms.load_places({"jurisdictions": [{"name": "佛山市"}]}, "x.yaml")


def test_the_demo_registry_read_once_serves_the_pages_and_the_card_routes():
    data = read_registry(DEFAULT_REGISTRY_FILE)
    pages = page_forms.load_places(data, DEFAULT_REGISTRY_FILE)
    cards = practice_store.load_places(data)
    towns = {place.code for _, group in pages.groups for place in group}
    assert "foshan/chancheng/shiwan" in towns and towns <= set(cards.jurisdictions)
    assert {e.code for e in pages.employers} == set(cards.bureaus) and cards.cadre_places
