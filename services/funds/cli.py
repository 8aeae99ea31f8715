"""``doorstep ledger verify``: anyone can check the books."""
from __future__ import annotations

import json
import sys

import click


@click.group()
def ledger():
    """The funds ledger: anyone can check its hash chain and balances."""


@ledger.command("verify")
@click.option("--db", help="funds database URL (default: DOORSTEP_DB_FUNDS or the DOORSTEP_DB template)")
@click.option("--book", "books", multiple=True, help="book(s) to verify, e.g. foundation or area:shixin (default: all)")
@click.option("--export", "export_file", type=click.File("r", encoding="utf-8"),
              help="verify a published ledger export (GET /funds/disclosures/<id>/ledger) instead of a database")
@click.option("--json", "as_json", is_flag=True, help="print the results as JSON")
def verify(db, books, export_file, as_json):
    """Recompute every entry's hash, the chain links and the balances; name the first broken entry.

    Exits 1 if any book fails."""
    from services.funds.handlers.ledger import verify_export

    if export_file is not None:
        results = [verify_export(json.load(export_file))]
    else:
        results = _verify_database(db, books)
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False))
    else:
        for result in results:
            if result["ok"]:
                head = result.get("head", {}).get("hash", "")
                click.echo(f"{result['book']}: OK, {result['entries']} entries, chain head {head}")
            else:
                click.echo(f"{result['book']}: BROKEN — {result['first_breach']}")
    if not all(r["ok"] for r in results):
        sys.exit(1)


def _verify_database(db, books):
    from sqlalchemy.orm import sessionmaker

    from shared.config import ConfigError, load_settings
    from shared.db import engine_for
    from services.funds.repositories import FundsUnitOfWork
    from services.funds.handlers.ledger import verify_all, verify_book

    try:
        settings = load_settings()
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None
    url = db or settings.db_url("funds")
    uow = FundsUnitOfWork(sessionmaker(engine_for(url), expire_on_commit=False), settings.street)
    if books:
        return [verify_book(book, uow) for book in books]
    results = verify_all(uow)
    if not results:
        raise click.ClickException(f"no books in {url.split('@')[-1]}")
    return results
