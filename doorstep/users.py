"""``doorstep user …``: the console's staff users (``console.users``), created where the operator also issues
the services' tokens."""
from __future__ import annotations

import sys

import click

from doorstep.options import settings_or_exit
from shared.auth import ROLES


def _store(settings):
    from console.store import Store, migrate

    migrate(settings.console_db_url)
    return Store(settings.console_db_url)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("密码 / password", hide_input=True, confirmation_prompt=True)


def _check_unit(settings, unit: str) -> None:
    """A handler's unit must be one of the street's (routing's directory, as the services load it)."""
    from services.routing.domain.directory import DEFAULT_DIRECTORY, load_directory

    directory = load_directory(settings.street_file("routing_directory") or DEFAULT_DIRECTORY)
    if unit not in directory.units:
        raise click.ClickException(f"no unit {unit!r} in the street's directory; one of "
                                   f"{', '.join(sorted(directory.units))}")


@click.group()
def user():
    """The console's staff users (each with a token of its own role for the services)."""


@user.command("create")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--unit", default="", help="the unit a handler acts for (a code of the street's directory)")
@click.option("--station", default="", help="the user's service station (its residential area is preselected)")
@click.option("--display-name", default="", help="the name shown in the console, e.g. 王芳")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def create(name, role, unit, station, display_name, password_stdin):
    """Create a user; its token goes (hashed) into the services' tokens file."""
    from console.users import UserProblem, create_user
    from shared.auth import TokenFile
    from shared.db import utcnow

    settings = settings_or_exit()
    if unit:
        _check_unit(settings, unit)
    store = _store(settings)
    try:
        created = create_user(store, TokenFile(settings.tokens_file), name, role, _password(password_stdin),
                              display_name=display_name, unit=unit, station=station, now=utcnow())
    except UserProblem as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"user {created.name} ({role}{', unit ' + unit if unit else ''}) created; "
               f"token {created.token_id} in {settings.tokens_file}")


@user.command("password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def password(name, password_stdin):
    """Set a new password; the user gets a new token (the old one is revoked) and is signed out."""
    from console.users import UserProblem, reset_password
    from shared.auth import TokenFile

    settings = settings_or_exit()
    try:
        changed = reset_password(_store(settings), TokenFile(settings.tokens_file), name, _password(password_stdin))
    except UserProblem as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"user {changed.name}: new password; token {changed.token_id}")


@user.command("remove")
@click.argument("name")
def remove(name):
    """Remove a user and revoke its token."""
    from console.users import UserProblem, remove_user
    from shared.auth import TokenFile

    settings = settings_or_exit()
    try:
        remove_user(_store(settings), TokenFile(settings.tokens_file), name)
    except UserProblem as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"user {name} removed")


@user.command("list")
def list_users():
    """The users, their roles and units."""
    settings = settings_or_exit()
    for found in _store(settings).users():
        click.echo(f"{found.name:<20} {found.role:<10} {found.unit or '-':<20} {found.station or '-':<12} "
                   f"{found.display_name}")
