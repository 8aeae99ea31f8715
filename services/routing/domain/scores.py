"""A unit's scores (三率): response, resolution and satisfaction over a period."""
from __future__ import annotations

from services.routing.domain.assignments import Assignment


def unit_scores(assignments: list[Assignment], dissatisfied: set[str]) -> dict:
    """响应率 (signed for in time), 办结率 (lead assignments resolved) and 满意率 (resolved and not rated
    dissatisfied, i.e. not reopened as a warning case) over the assignments of one unit in one period;
    ``dissatisfied`` holds the ids of the lead assignments whose answer the resident rejected."""
    counted = [a for a in assignments if a.status not in ("transferred", "returned", "superseded")]
    signed_in_time = [a for a in counted if a.signed_at and a.sign_due_at and a.signed_at <= a.sign_due_at]
    leads = [a for a in counted if a.role == "lead"]
    resolved = [a for a in leads if a.status == "done"]
    satisfied = [a for a in resolved if a.id not in dissatisfied]

    def rate(part, whole):
        return round(len(part) / len(whole), 4) if whole else None

    return {
        "assignments": len(counted),
        "response_rate": rate(signed_in_time, counted),
        "resolution_rate": rate(resolved, leads),
        "satisfaction_rate": rate(satisfied, resolved),
        "resolved_on_time": len([a for a in resolved if a.due_at and a.reported_at and a.reported_at <= a.due_at]),
    }
