"""The import structure, read from the source (ast, not runtime, so lazy imports count too).

- shared/ is layered: a module imports only modules of its own layer or of a lower one, nothing
  in shared/ imports from services/, and there is no import cycle.
- problems.py (the HTTP edge's errors) pulls in no Kafka client; the worker-side modules pull in
  no Flask.
- Every package imported directly is declared in pyproject.toml: shared/ and services/ in the
  dependencies, deploy/, bench/ and tests/ in the dependencies or the dev extra.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "shared"
LOCAL = {"shared", "services", "deploy", "bench", "tests", "__future__"}

# Lowest first: settings → adapters (events, mongo, kafka, kafka admin) → metrics → consumer,
# outbox, web → entry, cli.
LAYERS: list[set[str]] = [
    {"settings", "dependencies", "logs", "i18n", "vocabulary", "forms", "sealing", "times", "workdays",
     "clients", "current"},
    {"events", "mongo", "kafka", "kafka_admin"},
    {"metrics"},
    {"consumer", "outbox", "fakes", "web", "problems", "auth", "csrf", "serve",
     "catalogs"},
    {"entry", "check", "cli", "broker_commands", "clue_import"},
]
LAYER_OF = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def imported_modules(path: Path) -> set[str]:
    """Every absolute module name `path` imports, at module level or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            # `from shared import events` imports the module shared.events
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def shared_graph() -> dict[str, set[str]]:
    """shared module name -> the shared modules it imports."""
    modules = {p.stem for p in SHARED.glob("*.py") if p.stem != "__init__"}
    graph = {}
    for name in modules:
        names = imported_modules(SHARED / f"{name}.py")
        graph[name] = {n.split(".")[1] for n in names
                       if n.startswith("shared.") and n.split(".")[1] in modules}
    return graph


def closure(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph[name])
    return seen


def third_party(path: Path) -> set[str]:
    return {n.split(".")[0] for n in imported_modules(path)} - LOCAL - set(sys.stdlib_module_names)


def test_every_shared_module_has_a_layer():
    assert set(shared_graph()) - set(LAYER_OF) == set(), "place the new module in LAYERS"


def test_no_shared_module_imports_upward():
    upward = [f"shared/{name}.py imports shared.{dep}"
              for name, deps in shared_graph().items() for dep in deps
              if LAYER_OF.get(dep, 99) > LAYER_OF.get(name, -1)]
    assert upward == []


def test_shared_has_no_import_cycle():
    graph = shared_graph()
    cycles = [f"{name} -> {dep} -> ... -> {name}" for name, deps in graph.items() for dep in deps
              if name in closure(graph, dep)]
    assert cycles == []


def test_shared_never_imports_services():
    offenders = [f"shared/{p.name}" for p in SHARED.glob("*.py")
                 if any(n == "services" or n.startswith("services.") for n in imported_modules(p))]
    assert offenders == []


@pytest.mark.parametrize(("module", "unwanted"), [
    ("problems", {"kafka", "confluent_kafka"}),
    ("entry", {"flask", "werkzeug"}),
    ("consumer", {"flask", "werkzeug"}),
    ("outbox", {"flask", "werkzeug"}),
    ("metrics", {"flask", "werkzeug"}),
    ("kafka_admin", {"flask", "werkzeug", "confluent_kafka"}),
])
def test_a_module_does_not_pull_in_what_it_does_not_need(module, unwanted):
    graph = shared_graph()
    pulled = set().union(*(third_party(SHARED / f"{name}.py") for name in closure(graph, module)))
    assert pulled & unwanted == set()


def declared(*groups: str) -> set[str]:
    """The distribution names pyproject.toml declares in `groups` ("" = the dependencies)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = [s for g in groups for s in (project["dependencies"] if g == "" else
                                         project["optional-dependencies"][g])]
    return {re.split(r"[\[=<>!~; ]", s, maxsplit=1)[0].lower().replace("_", "-") for s in specs}


def test_each_distribution_is_declared_once():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = [*project["dependencies"], *(s for g in project["optional-dependencies"].values() for s in g)]
    names = [re.split(r"[\[=<>!~; ]", s, maxsplit=1)[0].lower().replace("_", "-") for s in specs]
    assert sorted(n for n in set(names) if names.count(n) > 1) == []


@pytest.mark.parametrize(("folder", "groups"), [
    ("shared", ("",)), ("services", ("",)),
    ("deploy", ("", "dev")), ("bench", ("", "dev")), ("tests", ("", "dev")),
])
def test_every_package_imported_directly_is_declared(folder, groups):
    distributions = importlib.metadata.packages_distributions()
    allowed = declared(*groups)
    missing = {}
    for path in (ROOT / folder).rglob("*.py"):
        for name in third_party(path):
            dists = {d.lower().replace("_", "-") for d in distributions.get(name, [name])}
            if not dists & allowed:
                missing.setdefault(name, f"{path.relative_to(ROOT)}")
    assert missing == {}
