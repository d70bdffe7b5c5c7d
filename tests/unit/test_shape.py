"""The code's shape, read from the source (ast): no module over 400 lines and no function over 60
lines in services/, shared/, deploy/ and bench/ (tests are not checked).

A function's size runs from its `def` line to its last line (decorators not counted); a nested
function is measured on its own and also counts in the function around it. ALLOWED lists the
offenders of the day with their size then: an offender not in the list fails, an allowed one that
grew past its listed size fails, and one that no longer exceeds the limit (or no longer exists)
fails too, so that the list is kept tidy and can only shrink.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ("services", "shared", "deploy", "bench")
MODULE_LIMIT = 400
FUNCTION_LIMIT = 60

# "path" for a module, "path::qualified.name" for a function -> its size in lines when listed.
ALLOWED: dict[str, int] = {
    "services/assignment/api.py::register_paths": 81,
    "services/assignment/pages.py": 564,
    "services/assignment/pages.py::create_workspace_blueprint": 318,
    "services/assignment/pages_reports.py::add_report_pages": 79,
    "services/assignment/practice_api.py::register_paths": 87,
    "services/assignment/practice_pages.py::register": 117,
    "services/intake/api.py::create_blueprint": 92,
    "services/intake/handlers.py": 507,
    "services/intake/pages.py": 528,
    "services/intake/pages.py::create_pages_blueprint": 174,
    "services/intake/practice_api.py::create_practice_blueprint": 215,
    "services/intake/practice_openapi.py::register_practice_paths": 116,
}


def _functions(node: ast.AST, prefix: str = "") -> Iterator[tuple[str, int]]:
    """(qualified name, lines) of every function under `node`, nested ones included."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            name = f"{prefix}{child.name}"
            yield name, child.end_lineno - child.lineno + 1
            yield from _functions(child, f"{name}.")
        elif isinstance(child, ast.ClassDef):
            yield from _functions(child, f"{prefix}{child.name}.")
        else:
            yield from _functions(child, prefix)


def sizes() -> tuple[dict[str, int], dict[str, int]]:
    """Every module's and every function's size in lines, by key (see ALLOWED)."""
    modules: dict[str, int] = {}
    functions: dict[str, int] = {}
    for top in CHECKED:
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            source = path.read_text(encoding="utf-8")
            modules[rel] = len(source.splitlines())
            for name, lines in _functions(ast.parse(source, rel)):
                functions[f"{rel}::{name}"] = max(lines, functions.get(f"{rel}::{name}", 0))
    return modules, functions


def offenders() -> tuple[dict[str, int], dict[str, int]]:
    """(offenders over the limits, every size) by key."""
    modules, functions = sizes()
    over = {k: n for k, n in modules.items() if n > MODULE_LIMIT}
    over.update({k: n for k, n in functions.items() if n > FUNCTION_LIMIT})
    return over, {**modules, **functions}


def test_no_module_or_function_over_the_limits_outside_the_allow_list():
    over, _ = offenders()
    unlisted = {k: n for k, n in over.items() if k not in ALLOWED}
    assert not unlisted, (
        f"over {MODULE_LIMIT} lines a module or {FUNCTION_LIMIT} lines a function: {unlisted}; "
        "split it (STYLE.md), do not list it"
    )


def test_allowed_offenders_do_not_grow():
    over, _ = offenders()
    grown = {k: (ALLOWED[k], n) for k, n in over.items() if k in ALLOWED and n > ALLOWED[k]}
    assert not grown, f"allowed offenders grew (listed, now): {grown}"


def test_the_allow_list_is_tidy():
    over, every = offenders()
    gone = sorted(k for k in ALLOWED if k not in every)
    fixed = {k: every[k] for k in ALLOWED if k in every and k not in over}
    assert not gone, f"allow-listed but no longer in the tree: {gone}; drop them from ALLOWED"
    assert not fixed, f"allow-listed but now within the limits: {fixed}; drop them from ALLOWED"


def test_the_measure_sees_functions_nested_in_classes_and_functions():
    tree = ast.parse(
        "class A:\n    def m(self):\n        def inner():\n            pass\n        return inner\n"
    )
    assert dict(_functions(tree)) == {"A.m": 4, "A.m.inner": 2}
