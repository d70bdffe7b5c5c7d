"""Only the edge speaks HTTP errors: no module of services/assignment imports shared.problems
(its `Problem`, nor json_body or load) but the routes, the pages and the mapping of domain
refusals to problem+json (problems.py). The others raise the refusals of errors.py and
model.py, plain Python the edge maps. Read from the source, so an import inside a function counts.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
ASSIGNMENT = ROOT / "services" / "assignment"

# The edge: what parses a request and renders an answer, and the app that wires them.
EDGE_NAMES = {"app.py", "problems.py", "workspace.py", "sessions.py", "practice_api.py", "casework_api.py"}


def is_edge(path: Path) -> bool:
    """The JSON routes (api*.py, practice_api.py, casework_api.py), the pages (*pages*.py), the
    workspace blueprint and its sessions, the app factory, and problems.py."""
    return path.name in EDGE_NAMES or path.name.startswith("api") or "pages" in path.name


def http_imports(path: Path) -> set[str]:
    """What the module imports from shared.problems, flask or werkzeug ("shared.problems" for
    the module itself), at module level or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "shared":
            found.update(f"shared.{a.name}" for a in node.names if a.name == "problems")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "shared.problems":
                found.update(f"shared.problems.{a.name}" for a in node.names)
            elif node.module.split(".")[0] in {"flask", "werkzeug"}:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names
                         if a.name == "shared.problems" or a.name.split(".")[0] in {"flask", "werkzeug"})
    return found


def problem_importers() -> dict[str, set[str]]:
    modules = sorted(ASSIGNMENT.rglob("*.py"))
    assert len(modules) > 40, "the walk found too few modules to mean anything"
    found = {p.name: {n for n in http_imports(p) if n.startswith("shared.problems")} for p in modules}
    return {name: names for name, names in found.items() if names}


def test_only_the_edge_imports_shared_problems():
    outside = {name: names for name, names in problem_importers().items() if not is_edge(ASSIGNMENT / name)}
    assert outside == {}, (
        "raise a refusal of services/assignment/errors.py (or model.py's CaseError family) here, "
        "and map it in problems.py"
    )


def test_the_refusals_are_plain_python():
    for name in ("errors.py", "model.py"):
        assert http_imports(ASSIGNMENT / name) == set(), f"{name} imports the HTTP edge"


def test_the_edge_names_modules_that_exist():
    assert all((ASSIGNMENT / name).is_file() for name in EDGE_NAMES)
    assert problem_importers(), "no edge module imports shared.problems: the check reads nothing"


def test_the_check_sees_every_way_to_import_problem(tmp_path):
    ways = {
        "a.py": "from shared.problems import Problem\n",
        "b.py": "def f():\n    from shared.problems import Problem\n    raise Problem(404, 'Not Found')\n",
        "c.py": "from shared import problems\n",
        "d.py": "import shared.problems\n",
    }
    for name, text in ways.items():
        (tmp_path / name).write_text(text)
        assert any(n.startswith("shared.problems") for n in http_imports(tmp_path / name)), name
    (tmp_path / "e.py").write_text("from shared import auth\nfrom .problems import problem_for\n")
    assert http_imports(tmp_path / "e.py") == set()
    assert is_edge(tmp_path / "api_reports.py") and is_edge(tmp_path / "casework_pages.py")
    assert not is_edge(tmp_path / "queries.py") and not is_edge(tmp_path / "recommendation_store.py")
