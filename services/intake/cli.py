"""`doorstep catalog …`: check a street's matter catalog before it is deployed."""
from __future__ import annotations

import sys

import click


@click.group()
def catalog():
    """The matter catalog (事项目录)."""


@catalog.command("check")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
def catalog_check(path):
    """Validate the catalog at PATH (the default catalog without PATH)."""
    from services.intake.catalog import DEFAULT_CATALOG, CatalogError, load_catalog

    try:
        loaded = load_catalog(path or DEFAULT_CATALOG)
    except CatalogError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        click.echo(f"{len(exc.problems)} problem(s); the catalog cannot be used", err=True)
        sys.exit(1)
    click.echo(loaded.summary())
