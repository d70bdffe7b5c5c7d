"""The answers of the supervisors' reports (API.md, Assignment): the quarterly statistics, the
duties and the review batches (大起底/回头看), as marshmallow schemas that dump each answer and
document it in /openapi.json. Times pass through as stored (`Instant`)."""

from __future__ import annotations

from marshmallow import Schema, fields

from shared.web import Instant


def _text() -> fields.String:
    return fields.String(allow_none=True)


def _counts() -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=fields.Integer())


class Days(Schema):
    """Days taken: the mean and the 90th percentile (null when nothing was counted)."""

    mean = fields.Float(allow_none=True)
    p90 = fields.Float(allow_none=True)


class StatsRow(Schema):
    """One jurisdiction's (or subtree's) figures of the quarters asked about."""

    jurisdiction = _text()
    name = fields.String()
    received = fields.Integer()
    accepted = fields.Integer()
    escalated = fields.Integer()
    escalated_by_reason = _counts()
    supervised = fields.Integer()
    closed = fields.Integer()
    closed_by_disposition = _counts()
    closed_by_outcome = _counts()
    overdue = fields.Integer()
    duties_missed = fields.Integer()
    days_to_accept = fields.Nested(Days)
    days_to_close = fields.Nested(Days)


class StatsBasis(Schema):
    """The rows of the child jurisdictions and 本级, and their total."""

    rows = fields.List(fields.Nested(StatsRow))
    total = fields.Nested(StatsRow)


class StatsBases(Schema):
    received = fields.Nested(StatsBasis, metadata={"description": "counted where the clue was received"})
    handled = fields.Nested(StatsBasis, metadata={"description": "counted at the level that handled it"})


class Escalated(Schema):
    cases = fields.Integer()
    by_reason = _counts()


class Closed(Schema):
    cases = fields.Integer()
    by_disposition = _counts()
    by_outcome = _counts()


class StatsReport(Schema):
    """The quarter's figures per child jurisdiction on both bases, and the jurisdiction's totals
    counted where the cases were handled."""

    jurisdiction = fields.String()
    quarters = fields.List(fields.String())
    from_ = Instant(attribute="from", data_key="from")
    to = Instant()
    bases = fields.Nested(StatsBases)
    received = fields.Integer()
    accepted = fields.Integer()
    escalated = fields.Nested(Escalated)
    supervised = fields.Integer()
    closed = fields.Nested(Closed)
    overdue = fields.Integer()
    duties_missed = fields.Integer()
    queued = fields.Integer()
    days_to_accept = fields.Nested(Days)
    days_to_close = fields.Nested(Days)


class DutyView(Schema):
    """A duty a case owes: due, missed or met, with any notice that failed."""

    duty_id = fields.String()
    case_id = fields.String()
    clue_id = fields.String()
    kind = fields.String()
    kind_label = fields.String()
    state = fields.String()
    due_at = Instant()
    met_at = Instant(allow_none=True)
    unit = fields.String()
    unit_name = _text()
    jurisdiction = fields.String()
    failure = _text()
    failed_at = Instant(allow_none=True)
    channel = _text()


class DutyPage(Schema):
    items = fields.List(fields.Nested(DutyView))
    next = _text()


class ReviewFigures(Schema):
    total = fields.Integer()
    in_hand = fields.Integer()
    closed = fields.Integer()
    overdue = fields.Integer()
    reviews = fields.Integer()


class ReviewUnit(ReviewFigures):
    unit = fields.String()
    unit_name = fields.String()


class ReviewBatchView(ReviewFigures):
    """A review batch (大起底/回头看): its deadline and progress, in all and by unit."""

    batch_id = fields.String()
    name = fields.String()
    deadline = Instant()
    by_unit = fields.List(fields.Nested(ReviewUnit))


class ReviewBatchPage(Schema):
    items = fields.List(fields.Nested(ReviewBatchView))
    next = _text()
