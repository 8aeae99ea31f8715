"""``doorstep``: run services, migrate databases, issue tokens, watch events, benchmark."""
import warnings

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")
import eventlet  # noqa: E402

eventlet.monkey_patch()  # before anything opens a socket, as `nameko run` does

import logging  # noqa: E402

import click  # noqa: E402

from doorstep.options import common_options, settings_or_exit  # noqa: E402
from shared import logs  # noqa: E402
from shared.config import SERVICES  # noqa: E402


@click.group()
def main():
    """Doorstep (家门口): intake, routing, funds and notify services of a sub-district."""


@main.command()
@common_options
@click.argument("services", nargs=-1, type=click.Choice(SERVICES))
@click.option("--port", type=int, help="HTTP port (one service per process) [DOORSTEP_HTTP_PORT]")
@click.option("--host", help="HTTP bind address [DOORSTEP_HTTP_HOST]")
@click.option("--migrate/--no-migrate", default=None, help="upgrade databases first (default: only for SQLite)")
@click.option("--demo", is_flag=True, help="issue a demo counter token and print how to try the API")
def run(services, street, broker, db, port, host, migrate, demo):
    """Run SERVICES (default: all four in this process)."""
    from doorstep import runner

    services = services or SERVICES
    if port is not None and len(services) > 1:
        raise click.ClickException("--port applies to one service per process; name the service")
    settings = settings_or_exit(street=street, broker_uri=broker, db_template=db, http_port=port, http_host=host)
    logs.configure()
    taken = runner.ports_in_use(settings, services)
    if taken:
        raise click.ClickException(f"port(s) {', '.join(map(str, taken))} already in use on {settings.http_host}: "
                                   "is Doorstep running already? (--port or DOORSTEP_HTTP_PORT for another)")
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
    if not runner.run_forever(containers):
        raise SystemExit(1)


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
@common_options
@click.argument("services", nargs=-1, type=click.Choice(SERVICES))
def migrate(services, street, broker, db):
    """Upgrade SERVICES' databases (default: all) to the latest migration, creating missing ones."""
    from doorstep import runner
    from shared.migrations import MissingDatabase

    settings = settings_or_exit(street=street, broker_uri=broker, db_template=db)
    for name in services or SERVICES:
        try:
            created = runner.migrate(settings, [name])
        except MissingDatabase as exc:
            raise click.ClickException(f"{name}: {exc}") from None
        click.echo(f"{name}: {'created and ' if created else ''}migrated ({settings.db_url(name).split('@')[-1]})")


from doorstep.api import api  # noqa: E402
from doorstep.bench import bench  # noqa: E402
from doorstep.district import district  # noqa: E402
from doorstep.dlq import dlq  # noqa: E402
from doorstep.events import events  # noqa: E402
from doorstep.residents import residents  # noqa: E402
from doorstep.streets import new_street_command, street  # noqa: E402
from doorstep.tokens import token  # noqa: E402
from services.funds.cli import ledger  # noqa: E402
from services.intake.cli import catalog  # noqa: E402
from services.routing.cli import routing  # noqa: E402
from doorstep.bench.ledger import bench_ledger  # noqa: E402

for command in (api, token, events, dlq, new_street_command, street, district, bench, catalog, ledger, routing,
                residents):
    main.add_command(command)
bench.add_command(bench_ledger)

if __name__ == "__main__":
    main()
