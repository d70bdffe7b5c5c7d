"""Only stores speak to the database: no module under services/ reaches a collection through
mongoengine's private `_get_collection()`, nor queries a document through its `objects` manager
(`CadreSlot.objects(unit=...)`), but the documents, the stores (`*_store.py`, `store.py`) and the
modules listed below, each with its reason. A listed module that no longer does it fails the test
too, so the lists only shrink."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "services"

# Modules that still reach collections themselves, and why they may for now.
ALLOWED: dict[str, str] = {}

# Modules that still query documents themselves (`<Document>.objects`), and why they may for now.
QUERYING_ALLOWED: dict[str, str] = {}


def is_store(path: Path) -> bool:
    return path.name in {"documents.py", "store.py"} or path.name.endswith("_store.py")


def reaches_collections(path: Path) -> bool:
    """Whether the module calls `<anything>._get_collection(...)`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and node.func.attr == "_get_collection"
        for node in ast.walk(tree)
    )


def queries_documents(path: Path) -> bool:
    """Whether the module uses a document's `objects` manager (`<anything>.objects`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(isinstance(node, ast.Attribute) and node.attr == "objects" for node in ast.walk(tree))


def offenders(check=reaches_collections) -> set[str]:
    modules = sorted(SERVICES.rglob("*.py"))
    assert len(modules) > 50, "the walk found too few modules to mean anything"
    return {str(p.relative_to(ROOT)) for p in modules if not is_store(p) and check(p)}


def test_only_stores_reach_collections():
    outside = offenders() - set(ALLOWED)
    assert outside == set(), "move these modules' database access into a store (a *_store.py module)"


def test_the_allow_list_only_names_modules_that_still_reach_collections():
    stale = set(ALLOWED) - offenders()
    assert stale == set(), "these modules no longer reach collections: take them off ALLOWED"


def test_only_stores_query_documents():
    outside = offenders(queries_documents) - set(QUERYING_ALLOWED)
    assert outside == set(), "move these modules' `<Document>.objects` queries into a store (a *_store.py)"


def test_the_querying_allow_list_only_names_modules_that_still_query_documents():
    stale = set(QUERYING_ALLOWED) - offenders(queries_documents)
    assert stale == set(), "these modules no longer query documents: take them off QUERYING_ALLOWED"


def test_the_check_sees_a_query_through_objects(tmp_path):
    direct = tmp_path / "reads.py"
    direct.write_text("from .documents import CadreSlot\n\n"
                      "def f(u):\n    return CadreSlot.objects(unit=u).first()\n")
    through = tmp_path / "pages.py"
    through.write_text("from . import practice_store\n\n"
                       "def f(i):\n    return practice_store.Batch.objects.get(id=i)\n")
    plain = tmp_path / "rules.py"
    plain.write_text("def f(found):\n    return [o for o in found.items() if o]\n")
    assert queries_documents(direct) and queries_documents(through) and not queries_documents(plain)


def test_the_check_sees_a_call_of_get_collection(tmp_path):
    rule = tmp_path / "rules.py"
    rule.write_text("from .documents import Case\n\ndef f():\n    return Case._get_collection().find({})\n")
    named = tmp_path / "names.py"
    named.write_text("def f(doc):\n    return doc._get_collection_name()\n")
    assert reaches_collections(rule) and not reaches_collections(named)
    assert is_store(tmp_path / "case_store.py") and not is_store(tmp_path / "rules.py")
