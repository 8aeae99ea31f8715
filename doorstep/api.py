"""``doorstep api docs``: each service's OpenAPI document, written where district systems and the console
read it (``docs/openapi/<service>.json``) and checked current in the tests, like the event catalog."""
from __future__ import annotations

import json
from pathlib import Path

import click

from shared.config import SERVICES


def documents() -> dict[str, dict]:
    """Each service's OpenAPI document, as the service serves it at ``/<service>/openapi.json``."""
    from doorstep.runner import service_class
    from shared.service import api_document

    return {name: api_document(service_class(name)) for name in SERVICES}


def render(out: Path) -> dict[Path, str]:
    return {out / f"{name}.json": json.dumps(document, ensure_ascii=False, indent=2) + "\n"
            for name, document in documents().items()}


def stale(out: Path) -> list[Path]:
    return [path for path, text in render(out).items() if not path.exists() or path.read_text("utf-8") != text]


@click.group()
def api():
    """The services' HTTP APIs."""


@api.command("docs")
@click.option("--out", type=click.Path(file_okay=False), default="docs/openapi", show_default=True,
              help="folder of the OpenAPI documents")
@click.option("--check", is_flag=True, help="only check that the folder is current (exit 1 if not)")
def api_docs(out, check):
    """Write <service>.json, the OpenAPI 3.1 document of each service."""
    out = Path(out)
    if check:
        outdated = stale(out)
        if outdated:
            raise click.ClickException(f"out of date: {', '.join(p.name for p in outdated)}; run 'doorstep api docs'")
        click.echo("OpenAPI documents are current")
        return
    out.mkdir(parents=True, exist_ok=True)
    for path, text in render(out).items():
        if not path.exists() or path.read_text("utf-8") != text:
            path.write_text(text, "utf-8")
            click.echo(f"wrote {path}")
