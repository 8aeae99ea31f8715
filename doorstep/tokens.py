"""``doorstep token …``: bearer tokens for the APIs."""
from __future__ import annotations

import click

from doorstep.options import settings_or_exit


@click.group()
def token():
    """Bearer tokens for the write APIs."""


@token.command("create")
@click.option("--role", required=True, type=click.Choice(["counter", "handler", "treasurer", "auditor", "admin"]))
@click.option("--label", default="", help="who or what holds it")
def token_create(role, label):
    """Issue a token; it is printed once and only its hash is stored."""
    from shared.auth import TokenFile

    settings = settings_or_exit()
    secret, principal = TokenFile(settings.tokens_file).create(role, label)
    click.echo(secret)
    click.echo(f"(id {principal.token_id}, role {role}, stored hashed in {settings.tokens_file})", err=True)
