"""``doorstep district fan-in``: carry a street's events to the district broker with RabbitMQ shovels."""
from __future__ import annotations

import json

import click
import kombu

FAN_IN_QUEUE = "district-fan-in.{service}"


def fan_in_shovels(street: str, street_uri: str, district_uri: str) -> dict[str, dict]:
    """Dynamic shovel definitions carrying one street's events to the district broker.

    Per service, a durable queue on the street's broker takes every event of ``<service>.events`` (so nothing is
    lost while the link is down) and a shovel moves it, with publisher confirms, to the district's exchange of
    the same name; the routing key is kept and the envelope names the street, so a district subscriber binds
    exactly as it would on one street.
    """
    from shared.config import SERVICES

    return {
        f"doorstep-{street}-{service}": {
            "src-protocol": "amqp091", "src-uri": street_uri, "src-queue": FAN_IN_QUEUE.format(service=service),
            "dest-protocol": "amqp091", "dest-uri": district_uri, "dest-exchange": f"{service}.events",
            "ack-mode": "on-confirm", "reconnect-delay": 5,
        }
        for service in SERVICES
    }


def prepare_fan_in(street_uri: str, district_uri: str) -> None:
    """Declare the street-side queues (bound to everything) and the district-side exchanges."""
    from shared.config import SERVICES

    with kombu.Connection(street_uri) as conn:
        channel = conn.channel()
        for service in SERVICES:
            exchange = kombu.Exchange(f"{service}.events", "topic", durable=True, channel=channel)
            exchange.declare()
            kombu.Queue(FAN_IN_QUEUE.format(service=service), exchange, routing_key="#", durable=True,
                        channel=channel).declare()
    with kombu.Connection(district_uri) as conn:
        channel = conn.channel()
        for service in SERVICES:
            kombu.Exchange(f"{service}.events", "topic", durable=True, channel=channel).declare()


@click.group()
def district():
    """Carrying every street's events to the district's broker."""


@district.command("fan-in")
@click.option("--street", required=True, help="street code, e.g. lujiazui")
@click.option("--broker", required=True, help="the street's amqp:// URI (as the district broker reaches it)")
@click.option("--district", "district_uri", required=True, help="the district broker's amqp:// URI")
@click.option("--apply", "apply_", is_flag=True,
              help="declare the queues and set the shovels with rabbitmqctl (run on the street's broker host)")
def district_fan_in(street, broker, district_uri, apply_):
    """Declare the fan-in queues and print (or apply) the shovel parameters for one street."""
    import subprocess
    from urllib.parse import unquote, urlparse

    shovels = fan_in_shovels(street, broker, district_uri)
    vhost = unquote(urlparse(broker).path[1:]) or "/"
    commands = [["rabbitmqctl", "set_parameter", "-p", vhost, "shovel", name, json.dumps(definition)]
                for name, definition in shovels.items()]
    if not apply_:
        click.echo("rabbitmq-plugins enable rabbitmq_shovel")
        for command in commands:
            click.echo(" ".join(command[:-1]) + " '" + command[-1] + "'")
        return
    prepare_fan_in(broker, district_uri)
    for command in commands:
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode:
            raise click.ClickException(f"{' '.join(command[:6])}: {result.stderr.strip()}")
        click.echo(f"shovel {command[5]} set")
