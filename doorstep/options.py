"""Options and settings shared by the commands."""
from __future__ import annotations

import click

from shared.config import ConfigError, Settings, load_settings


def settings_or_exit(**overrides) -> Settings:
    """The deployment's settings with the command's overrides; a wrong value ends the command naming it."""
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None


def common_options(f):
    """--street, --broker and --db, over their environment variables."""
    f = click.option("--street", help="street code [DOORSTEP_STREET]")(f)
    f = click.option("--broker", help="memory:// or amqp://user:pass@host:5672/vhost [DOORSTEP_BROKER]")(f)
    f = click.option("--db", help="database URL template with {service} [DOORSTEP_DB]")(f)
    return f
