"""The answers of the case officers' API and the practice API (API.md, Assignment), as marshmallow
schemas: they dump each answer and document it in /openapi.json. Times pass through as stored
(`Instant`); free-form records (audit entries, duties, allegations) are objects."""

from __future__ import annotations

from marshmallow import Schema, fields

from shared.web import Flag, Instant


def _text(**kw) -> fields.String:
    return fields.String(allow_none=True, **kw)


def _texts() -> fields.List:
    return fields.List(fields.String())


def _records() -> fields.List:
    return fields.List(fields.Dict(keys=fields.String()))


def _date() -> fields.String:
    return fields.String(metadata={"format": "date"})


class CaseView(Schema):
    """A case as the API shows it (never anything about the reporter)."""

    case_id = fields.String(required=True)
    clue_id = fields.String(required=True)
    linked_clue_ids = _texts()
    status = fields.String(required=True)
    unit = fields.String(required=True)
    cadre_id = _text()
    lead_cadre_id = _text()
    due_at = Instant(allow_none=True)
    received_at = Instant(allow_none=True)
    category = _text()
    source = _text()
    jurisdiction = _text()
    routed_unit = _text()
    route_mode = _text()
    triage_reason = _text()
    serious = Flag(allow_none=True)
    watched_by = _text()
    escalation_reasons = _texts()
    accepted_at = Instant(allow_none=True)
    assigned_at = Instant(allow_none=True)
    supervised_at = Instant(allow_none=True)
    closed_at = Instant(allow_none=True)
    disposition = _text()
    outcomes = _texts()
    reporter_summary = _text()
    reopened_at = Instant(allow_none=True)
    subject_name = _text()
    subject_employer = _text()
    subject_rank = _text()
    subject_position = _text()
    amount_cny = fields.Integer(allow_none=True)
    collusion = Flag(allow_none=True)
    amount_total_cny = fields.Integer(allow_none=True)
    review = Flag()
    overdue = Flag()


class CasePage(Schema):
    items = fields.List(fields.Nested(CaseView))
    next = _text()


class CadreRef(Schema):
    id = fields.String()
    name = fields.String()
    role = fields.String()


class EscalationView(Schema):
    from_unit = fields.String()
    to_unit = fields.String()
    mode = fields.String()
    reasons = _texts()
    at = Instant()
    actor = _text()
    note = _text()


class FollowUpView(Schema):
    at = Instant()
    message = _text()
    objection = Flag()


class CaseDetail(CaseView):
    """The case with its unit, cadres, escalations, duties, clues, follow-ups and audit trail."""

    unit_name = _text()
    cadres = fields.List(fields.Nested(CadreRef))
    escalations = fields.List(fields.Nested(EscalationView))
    duties = _records()
    allegation = fields.Dict(keys=fields.String(), allow_none=True)
    linked_clues = _records()
    follow_ups = fields.List(fields.Nested(FollowUpView))
    audit = _records()


class WorkloadCadre(Schema):
    cadre_id = fields.String()
    name = fields.String()
    role = fields.String()
    active = Flag()
    capacity = fields.Integer()
    load = fields.Integer()
    open_cases = fields.Integer()
    leads = fields.Integer()


class Workload(Schema):
    """Open cases and capacity per cadre of a unit, and its queue."""

    unit = fields.String()
    cadres = fields.List(fields.Nested(WorkloadCadre))
    queued = fields.Integer()
    capacity = fields.Integer()


class JurisdictionView(Schema):
    code = fields.String()
    name = fields.String()
    level = fields.String()
    parent = _text()
    leaders = _texts()


class EmployerView(Schema):
    code = fields.String()
    name = fields.String()
    jurisdiction = fields.String()
    leaders = _texts()


class RegistryCadre(Schema):
    id = fields.String()
    name = fields.String()
    role = fields.String()
    capacity = fields.Integer()
    active = Flag()


class UnitView(Schema):
    code = fields.String()
    name = fields.String()
    jurisdiction = fields.String()
    kind = fields.String()
    serves_employer = _text()
    cadres = fields.List(fields.Nested(RegistryCadre))


class RegistryView(Schema):
    """The registry in the YAML file's shape."""

    jurisdictions = fields.List(fields.Nested(JurisdictionView))
    employers = fields.List(fields.Nested(EmployerView))
    units = fields.List(fields.Nested(UnitView))


class RegistryVersion(Schema):
    version = fields.Integer(required=True)


class MapNode(Schema):
    id = fields.String()
    kind = fields.String()
    label = fields.String()


class CaseMap(Schema):
    """The case's neighbourhood on the relationship map (opaque node ids)."""

    centre = fields.String()
    nodes = fields.List(fields.Nested(MapNode))
    edges = fields.List(fields.List(fields.String()))


class UnitRef(Schema):
    unit = fields.String()
    name = _text()


class Party(Schema):
    kind = fields.String()
    name = fields.String()


class NetworkCase(Schema):
    case_id = fields.String()
    escalation_reasons = _texts()
    routed_unit = _text()
    status = fields.String()
    subject_name = _text()
    unit = fields.String()
    unit_name = _text()


class NetworkView(Schema):
    """A network handled jointly (协作办案): lead unit, assisting units, parties, cases."""

    network_id = fields.String()
    lead_unit = fields.String()
    lead_unit_name = _text()
    assisting_units = fields.List(fields.Nested(UnitRef))
    parties = fields.List(fields.Nested(Party))
    why = _texts()
    cases = fields.List(fields.Nested(NetworkCase))
    created_at = Instant()


class NetworkPage(Schema):
    items = fields.List(fields.Nested(NetworkView))
    next = _text()


class RecommendationView(Schema):
    """A recommendation to a bureau, its deadline and the bureau's answer."""

    recommendation_id = fields.String()
    bureau = fields.String()
    bureau_name = fields.String()
    kind = fields.String()
    text = fields.String()
    due_on = _date()
    year = fields.Integer()
    quarter = fields.Integer()
    issued_by = _text()
    issued_at = Instant()
    answer = _text()
    answered_on = fields.String(allow_none=True, metadata={"format": "date"})
    status = fields.String()


class RecommendationPage(Schema):
    items = fields.List(fields.Nested(RecommendationView))
    next = _text()


class BureauQuarterRow(Schema):
    bureau = fields.String()
    bureau_name = fields.String()
    cases = fields.Integer()
    closed = fields.Integer()
    by_category = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_outcome = fields.Dict(keys=fields.String(), values=fields.Integer())


class BureauQuarter(Schema):
    """Per bureau in scope: the quarter's cases by category and outcome."""

    year = fields.Integer()
    quarter = fields.Integer()
    items = fields.List(fields.Nested(BureauQuarterRow))
    next = _text()
