"""registry validate on the demo registry and on broken files."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from services.cli import campaign

DEMO = Path(__file__).resolve().parents[3] / "deploy" / "registry" / "foshan.yaml"


def test_the_demo_registry_is_valid():
    result = CliRunner().invoke(campaign, ["registry", "validate", str(DEMO)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"OK {DEMO}: ")
    assert " jurisdictions, " in result.output and " cadres" in result.output


def _break(old: str, new: str) -> tuple[str, int]:
    """The demo registry with the first `old` replaced by `new`, and the line that changed."""
    text = DEMO.read_text(encoding="utf-8")
    at = text.index(old)
    return text[:at] + new + text[at + len(old):], text[:at].count("\n") + 1


@pytest.mark.parametrize(("old", "new", "reason"), [
    ("level: town", "level: planet", "'level' is 'planet'"),
    ("capacity: ", "capacity: -", "'capacity' must be a positive integer"),
    ("level: city, ", "level: city}, ", "invalid YAML"),
])
def test_a_broken_file_is_one_line_with_file_and_line(tmp_path, old, new, reason):
    text, line = _break(old, new)
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(campaign, ["registry", "validate", str(path)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"Error: {path}:{line}: ") and reason in lines[0]


def test_a_missing_file_exits_1(tmp_path):
    result = CliRunner().invoke(campaign, ["registry", "validate", str(tmp_path / "none.yaml")])
    assert result.exit_code == 1
    assert "cannot read" in result.output
