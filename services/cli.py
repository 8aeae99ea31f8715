"""``doorstep``: run services, migrate databases, issue tokens, watch events, benchmark."""
import warnings

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")
import eventlet  # noqa: E402

eventlet.monkey_patch()  # before anything opens a socket, as `nameko run` does

import json  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402

import click  # noqa: E402

from shared.config import SERVICES, ConfigError, load_settings  # noqa: E402


def _settings(**overrides):
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None


def _common(f):
    f = click.option("--street", help="street code [DOORSTEP_STREET]")(f)
    f = click.option("--broker", help="memory:// or amqp://user:pass@host:5672/vhost [DOORSTEP_BROKER]")(f)
    f = click.option("--db", help="database URL template with {service} [DOORSTEP_DB]")(f)
    return f


@click.group()
def main():
    """Doorstep (家门口): intake, routing, funds and notify services of a sub-district."""


@main.command()
@_common
@click.argument("services", nargs=-1, type=click.Choice(SERVICES))
@click.option("--port", type=int, help="HTTP port (one service per process) [DOORSTEP_HTTP_PORT]")
@click.option("--host", help="HTTP bind address [DOORSTEP_HTTP_HOST]")
@click.option("--migrate/--no-migrate", default=None, help="upgrade databases first (default: only for SQLite)")
@click.option("--demo", is_flag=True, help="issue a demo counter token and print how to try the API")
def run(services, street, broker, db, port, host, migrate, demo):
    """Run SERVICES (default: all four in this process)."""
    from services import runner

    services = services or SERVICES
    if port is not None and len(services) > 1:
        raise click.ClickException("--port applies to one service per process; name the service")
    settings = _settings(street=street, broker_uri=broker, db_template=db, http_port=port, http_host=host)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if migrate is None:
        migrate = all(settings.db_url(s).startswith("sqlite") for s in services)
    if migrate:
        runner.migrate(settings, services)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # readiness probes read the revision often
    containers = runner.start(settings, services)
    click.echo(f"Doorstep for street '{settings.street}' is running (broker {settings.broker_uri.split('@')[-1]}):")
    for name in services:
        base = f"http://{settings.http_host}:{settings.port(name)}"
        click.echo(f"  {name:<8} API {base}/{name}/…   metrics {base}/metrics   health {base}/readyz")
    if demo:
        _print_demo(settings)
    runner.run_forever(containers)


def _print_demo(settings):
    from shared.auth import TokenFile

    token, _ = TokenFile(settings.tokens_file).create("counter", label="demo")
    base = f"http://{settings.http_host}:{settings.port('intake')}"
    click.echo(f"\nA counter token for this demo: {token}\nTry:\n"
               f"  curl -s -X POST {base}/intake/cases -H 'Authorization: Bearer {token}' "
               "-H 'Content-Type: application/json' -d '{\"matter_code\": \"property-repair\", \"description\": "
               "\"楼道灯不亮\", \"resident\": {\"name\": \"王阿姨\", \"phone\": \"13812345678\", \"area\": \"shixin\"}}'\n"
               f"  curl -s {base}/intake/cases/<id> -H 'Authorization: Bearer {token}'\n"
               f"  curl -s 'http://{settings.http_host}:{settings.port('notify')}/notify/deliveries?case_id=<id>' "
               f"-H 'Authorization: Bearer {token}'\n")


@main.command()
@_common
@click.argument("services", nargs=-1, type=click.Choice(SERVICES))
def migrate(services, street, broker, db):
    """Upgrade SERVICES' databases (default: all) to the latest migration."""
    from services import runner

    settings = _settings(street=street, broker_uri=broker, db_template=db)
    for name in services or SERVICES:
        runner.migrate(settings, [name])
        click.echo(f"{name}: migrated ({settings.db_url(name).split('@')[-1]})")


@main.group()
def token():
    """Bearer tokens for the write APIs."""


@token.command("create")
@click.option("--role", required=True, type=click.Choice(["counter", "handler", "treasurer", "auditor", "admin"]))
@click.option("--label", default="", help="who or what holds it")
def token_create(role, label):
    """Issue a token; it is printed once and only its hash is stored."""
    from shared.auth import TokenFile

    settings = _settings()
    secret, principal = TokenFile(settings.tokens_file).create(role, label)
    click.echo(secret)
    click.echo(f"(id {principal.token_id}, role {role}, stored hashed in {settings.tokens_file})", err=True)


@main.group()
def events():
    """Watch and handle the event stream."""


@events.command("tail")
@click.option("--broker", help="amqp://… [DOORSTEP_BROKER]")
@click.option("--exchange", "exchanges", multiple=True, help="exchange(s) to follow (default: all four services')")
@click.option("--key", "binding", default="#", help="routing-key pattern, e.g. 'case.*.v1'")
@click.option("--count", type=int, default=0, help="stop after this many events (0: run until interrupted)")
@click.option("--json", "as_json", is_flag=True, help="print each envelope as one JSON line")
def events_tail(broker, exchanges, binding, count, as_json):
    """Print events as they flow, from a temporary queue bound to the services' exchanges."""
    from services.tools import tail_events

    settings = _settings(broker_uri=broker)
    if settings.embedded_broker:
        raise click.ClickException("events tail needs a real broker (--broker amqp://…): memory:// is per process")
    exchanges = exchanges or [f"{s}.events" for s in SERVICES]
    def ready():
        click.echo(f"following {', '.join(exchanges)} ({binding})", err=True)

    for envelope in tail_events(settings.broker_uri, exchanges, binding, count, on_ready=ready):
        if as_json:
            click.echo(json.dumps(envelope, ensure_ascii=False))
        else:
            click.echo(f"{envelope.get('time', '?')}  {envelope.get('type', '?'):<45} {envelope.get('subject', '')}")
        sys.stdout.flush()


@events.command("replay")
@_common
@click.option("--since", required=True, help="ISO time, e.g. 2026-11-23T08:00:00+08:00 (no zone: Asia/Shanghai)")
@click.option("--type", "types", multiple=True, help="only these event types (repeatable)")
@click.option("--to", "target", required=True, help="queue:<name> or exchange:<name>")
def events_replay(street, broker, db, since, types, target):
    """Re-publish retained events since a time, in order, marked as replays, for a subscriber that was down."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from services.tools import replay_events

    settings = _settings(street=street, broker_uri=broker, db_template=db)
    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        raise click.BadParameter(f"{since!r} is not an ISO date-time", param_hint="--since") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    try:
        sent = replay_events(settings, moment, types, target,
                             progress=lambda n: click.echo(f"\r{n} events replayed", err=True, nl=False))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--to") from None
    click.echo(f"\n{sent} events replayed to {target}", err=True)


@events.command("docs")
@click.option("--check", is_flag=True, help="only check that docs/ is current (exit 1 if not)")
def events_docs(check):
    """Write docs/events.md and docs/asyncapi.yaml from the event schemas."""
    from shared import contract_docs

    if check:
        stale = contract_docs.stale()
        if stale:
            raise click.ClickException(f"out of date: {', '.join(p.name for p in stale)}; run 'doorstep events docs'")
        click.echo("docs are current")
        return
    for path in contract_docs.write():
        click.echo(f"wrote {path}")


@events.command("freeze")
def events_freeze():
    """Freeze every schema version not yet frozen, and take additive changes into the frozen copies."""
    from shared import compat

    problems = compat.gate()
    if problems:
        for type_name, changes in problems.items():
            click.echo(f"{type_name}: " + "; ".join(changes), err=True)
        raise click.ClickException("breaking changes to published versions: publish a new version instead")
    for path in compat.freeze() + compat.refresh_additive():
        click.echo(f"froze {path}")


@main.group()
def dlq():
    """Dead-letter queues: what failed and why, and replay once fixed."""


@dlq.command("list")
@click.argument("service", type=click.Choice(SERVICES))
@click.option("--broker", help="amqp://… [DOORSTEP_BROKER]")
def dlq_list(service, broker):
    """Show the dead letters of SERVICE without removing them."""
    from services.tools import peek_dead_letters

    for headers, body in peek_dead_letters(_settings(broker_uri=broker).broker_uri, service):
        click.echo(f"{headers.get('x-dead-lettered-at')}  {headers.get('x-consumer')}  "
                   f"{headers.get('x-dead-letter-reason')}: {headers.get('x-error')}")


@dlq.command("replay")
@click.argument("service", type=click.Choice(SERVICES))
@click.option("--broker", help="amqp://… [DOORSTEP_BROKER]")
def dlq_replay(service, broker):
    """Send SERVICE's dead letters back to the queues they failed on."""
    from services.tools import replay_dead_letters

    moved = replay_dead_letters(_settings(broker_uri=broker).broker_uri, service)
    click.echo(f"{moved} message(s) returned to their queues")


@main.command("new-street")
@click.argument("code")
@click.option("--name", required=True, help="the street's name, e.g. 花木街道")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="overlays folder (default deploy/k8s/overlays)")
@click.option("--image", default="registry.example.com/doorstep/doorstep", show_default=True)
@click.option("--tag", default="0.1.0", show_default=True)
def new_street_command(code, name, out, image, tag):
    """Generate a street's Kubernetes overlay and its configuration skeleton."""
    from pathlib import Path

    from services.streets import OVERLAYS, StreetError, new_street

    try:
        written = new_street(code, name, Path(out) if out else OVERLAYS, image, tag)
    except StreetError as exc:
        raise click.ClickException(str(exc)) from None
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"next: create the Secrets (deploy/k8s/base/README.md), then kubectl apply -k {written[0].parent}")


@main.group()
def street():
    """A street's own configuration."""


@street.command("check")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
def street_check(folder):
    """Check a street folder (the files of its doorstep-street ConfigMap) as the services will load them."""
    from services.streets import StreetError, check_street

    try:
        lines = check_street(folder)
    except StreetError as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(1) from None
    for line in lines:
        click.echo(line)


@main.group()
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

    from services.tools import fan_in_shovels, prepare_fan_in

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


@main.group()
def bench():
    """Benchmarks (scripts with figures, not tests)."""


@bench.command("pipeline")
@click.option("--broker", default="amqp://guest:guest@127.0.0.1:5672/", show_default=True)
@click.option("--db", default="postgresql://postgres@127.0.0.1:5432/doorstep_bench_{service}", show_default=True)
@click.option("-n", "--cases", "n", default=2000, show_default=True, help="cases per variant")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object with the figures")
def bench_pipeline(broker, db, n, as_json):
    """Cases through intake → routing → notify on RabbitMQ + PostgreSQL, against two baselines."""
    from services.bench import run_pipeline_benchmark

    figures = run_pipeline_benchmark(broker, db, n, progress=not as_json)
    if as_json:
        click.echo(json.dumps(figures))
    else:
        for key, value in figures.items():
            click.echo(f"{key:>24}: {value}")

from services.intake.cli import catalog; main.add_command(catalog)  # noqa: E402,E702
from services.funds.cli import bench_ledger, ledger; main.add_command(ledger); bench.add_command(bench_ledger)  # noqa: E402,E702
from services.routing.cli import routing as routing_cli; main.add_command(routing_cli)  # noqa: E402,E702

if __name__ == "__main__":
    main()
