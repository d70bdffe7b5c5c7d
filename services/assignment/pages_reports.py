"""Supervisors' report pages in the workspace: duties (职责履行), the review batches (大起底/回头看)
and the quarterly statistics with their CSV and XLSX downloads: views of the workspace
blueprint (workspace.py), over the same queries as the API (duty_store, review, reports)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, request

from shared.auth import Principal
from shared.times import CHINA_TIME as CHINA
from shared.vocabulary import DISPOSITION_LABELS, ESCALATION_REASON_LABELS, PRIOR_DISPOSITION_LABELS

from . import duty_store, reports, review, statistics
from .charts import chart
from .duties import STATE_LABELS, STATES
from .workspace import bp, ctx, render, signed_in

STATE_ORDER = ("missed", "due", "met")


def _int(raw: str | None, default: int, low: int, high: int) -> int:
    return int(raw) if raw and raw.isdigit() and low <= int(raw) <= high else default


def chosen_quarter(now, args) -> tuple[int, int, list[int]]:
    """The year and quarter a page asks for (the current one when absent or out of range)."""
    today = now.astimezone(CHINA)
    years = [today.year - i for i in range(3)]
    year = _int(args.get("year"), today.year, min(years), today.year)
    quarter = _int(args.get("quarter"), (today.month - 1) // 3 + 1, 1, 4)
    return year, quarter, years


@bp.get("/workspace/duties")
@signed_in("supervisor")
def duties(principal: Principal):
    c = ctx()
    state = request.args.get("state")
    state = state if state in STATES else "missed"
    listed = duty_store.list_duties(principal, c.registry(), c.clock(), state=state, limit=200)
    counts = {s: duty_store.count(principal, c.registry(), c.clock(), s) for s in STATE_ORDER}
    return render("duties.html", principal=principal, state=state, items=listed["items"], counts=counts,
                  states=[(s, STATE_LABELS[s]) for s in STATE_ORDER])


@bp.get("/workspace/review")
@signed_in("supervisor")
def review_batches(principal: Principal):
    c = ctx()
    return render("review.html", principal=principal,
                  batches=review.batches(principal, c.registry(), c.clock()))


@bp.get("/workspace/review/<batch_id>")
@signed_in("supervisor")
def review_batch(principal: Principal, batch_id: str):
    c = ctx()
    found = review.batch(batch_id, principal, c.registry(), c.clock())
    return render("review_batch.html", principal=principal, batch=found,
                  prior_labels=PRIOR_DISPOSITION_LABELS)


def figures_for(principal: Principal) -> tuple[dict[str, Any], int, int, list[int]]:
    c = ctx()
    now = c.clock()
    year, quarter, years = chosen_quarter(now, request.args)
    data = reports.report(principal, c.registry(), now, quarter=f"{year}Q{quarter}")
    return data, year, quarter, years


@bp.get("/workspace/stats")
@signed_in("supervisor")
def stats(principal: Principal):
    figures, year, quarter, years = figures_for(principal)
    main = [
        ("收到线索", figures["received"]),
        ("受理", figures["accepted"]),
        ("提级/督办", figures["escalated"]["cases"] + figures["supervised"]),
        ("办结", figures["closed"]["cases"]),
        ("逾期未办结", figures["overdue"]),
        ("排队待分配", figures["queued"]),
    ]
    total = figures["bases"]["handled"]["total"]
    dispositions = [(label, total["closed_by_disposition"].get(code, 0))
                    for code, label in DISPOSITION_LABELS.items()]
    reasons = [(label, total["escalated_by_reason"].get(code, 0))
               for code, label in ESCALATION_REASON_LABELS.items()]
    return render(
        "stats.html", principal=principal, figures=figures, year=year, quarter=quarter, years=years,
        main=chart(main), dispositions=chart(dispositions), reasons=chart(reasons),
        period=f"{year} 年第 {quarter} 季度",
        bases=[(b, statistics.BASIS_LABELS[b]) for b in statistics.BASES],
        reason_codes=statistics.ESCALATION_REASONS, reason_labels=statistics.REASON_LABELS,
    )


def download(principal: Principal, body: Callable[[dict[str, Any]], bytes], mimetype: str, ext: str):
    data, *_ = figures_for(principal)
    name = f"stats-{data['jurisdiction'].replace('/', '-')}-{data['quarters'][0]}.{ext}"
    resp = Response(body(data), mimetype=mimetype)
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return resp


@bp.get("/workspace/stats.csv")
@signed_in("supervisor")
def stats_csv(principal: Principal):
    return download(principal, reports.as_csv, "text/csv", "csv")


@bp.get("/workspace/stats.xlsx")
@signed_in("supervisor")
def stats_xlsx(principal: Principal):
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return download(principal, reports.as_xlsx, xlsx, "xlsx")
