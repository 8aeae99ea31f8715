"""``doorstep routing …``: look into routing decisions from the command line."""
from __future__ import annotations

import json

import click
from sqlalchemy.orm import sessionmaker

from shared.config import ConfigError, load_settings
from shared.db import engine_for
from shared.errors import NotFound


@click.group()
def routing():
    """Routing: why a case went where it went."""


@routing.command("explain")
@click.argument("case_id")
@click.option("--db", help="database URL template with {service} [DOORSTEP_DB]")
@click.option("--json", "as_json", is_flag=True, help="print the decision as JSON")
def explain(case_id, db, as_json):
    """Show which rule routed CASE_ID and why, the rules tried before it, and what happened since."""
    from services.routing.handlers.reads import case_decision
    from services.routing.persistence import RoutingUnitOfWork

    try:
        settings = load_settings(db_template=db)
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None
    uow = RoutingUnitOfWork(sessionmaker(engine_for(settings.db_url("routing"))), settings.street)
    try:
        decision = case_decision(case_id, uow)
    except NotFound as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(decision, ensure_ascii=False, indent=2))
        return
    click.echo(render_explanation(decision))


def render_explanation(decision: dict) -> str:
    lines = [f"case {decision['case_id']}: {decision.get('status', '?')}, lead {decision.get('lead_unit')}"]
    facts = decision.get("facts")
    if facts:
        lines.append("facts: " + ", ".join(f"{k}={v}" for k, v in facts.items()))
    lines.append(f"rule:  {decision.get('rule')}")
    lines.append(f"why:   {decision.get('reason')}")
    for step in decision.get("explanation", []):
        if step["matched"]:
            held = ", ".join(f"{k}={v}" for k, v in step.get("conditions", {}).items()) or "no conditions"
            lines.append(f"  ✓ {step['rule']}: {held}")
        else:
            failed = step["failed"]
            if "condition" in failed:
                lines.append(f"  ✗ {step['rule']}: {failed['condition']} is {failed['actual']!r}, "
                             f"rule wants {failed['expected']!r}")
            else:
                lines.append(f"  ✗ {step['rule']}: {failed['unit']}: {failed['problem']}")
    for a in decision.get("assignments", []):
        lines.append(f"assignment {a['id']}: {a['role']} {a['unit_code']} {a['status']}"
                     + (f", due {a['due_at']}" if a.get("due_at") else "")
                     + (" (overdue)" if a.get("overdue") else ""))
    for entry in decision.get("history", []):
        detail = {k: v for k, v in entry.items() if k not in ("at", "action", "unit", "actor")}
        lines.append(f"{entry['at']}  {entry['action']}  {entry.get('unit') or ''}  "
                     + json.dumps(detail, ensure_ascii=False))
    return "\n".join(lines)
