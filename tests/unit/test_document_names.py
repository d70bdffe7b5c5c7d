"""mongoengine keeps one registry of document classes keyed by class name, across services: two
classes of one name leave one of them with a stale connection after a disconnect ("Cannot use
MongoClient after close"). Every document class's name is unique."""

from __future__ import annotations

import mongoengine as me

import services.assignment.documents
import services.intake.documents
import services.notify.documents
import shared.auth
import shared.mongo


def test_every_document_class_name_is_unique():
    modules = [services.assignment.documents, services.intake.documents, services.notify.documents,
               shared.auth, shared.mongo]
    names = [name for module in modules for name, value in vars(module).items()
             if isinstance(value, type) and issubclass(value, me.Document)
             and value.__module__ == module.__name__]
    assert names, "no document classes found"
    assert sorted(n for n in set(names) if names.count(n) > 1) == []
