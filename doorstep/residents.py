"""``doorstep residents …``: a resident's right to erasure (PIPL 删除权) from the command line."""
from __future__ import annotations

import json

import click

from doorstep.options import settings_or_exit


@click.group()
def residents():
    """Residents' personal data."""


@residents.command("erase")
@click.argument("resident_id", type=click.UUID)
@click.option("--db", help="database URL template with {service} [DOORSTEP_DB]")
@click.option("--json", "as_json", is_flag=True, help="print the outcome as JSON")
def erase(resident_id, db, as_json):
    """Pseudonymise RESIDENT_ID in intake's database, as POST /intake/residents/<id>/erase does: name, phone, ID
    number, building and room go, and the free text of their cases; the record and its cases stay.

    The event resident.erased is written to intake's outbox in the same transaction; the running intake service
    publishes it (within DOORSTEP_RELAY_GRACE_S), and routing and notify erase what they hold. Refused while a
    case of the resident is open or a booking of theirs is still to come."""
    from sqlalchemy.orm import sessionmaker

    from shared.db import engine_for
    from shared.errors import DomainError
    from services.intake.catalog import street_catalog
    from services.intake.domain import EraseResident
    from services.intake.handlers.residents import erase_resident
    from services.intake.persistence import IntakeUnitOfWork

    settings = settings_or_exit(db_template=db)
    uow = IntakeUnitOfWork(sessionmaker(engine_for(settings.db_url("intake")), expire_on_commit=False),
                           settings.street)
    try:
        outcome = erase_resident(EraseResident(str(resident_id)), uow, street_catalog(settings))
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(outcome, ensure_ascii=False, indent=2))
        return
    click.echo(f"resident {outcome['resident_id']} erased at {outcome['erased_at']} "
               f"(now {outcome['pseudonym']}); {len(outcome['case_ids'])} case(s) redacted")
