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

# What `doorstep run` and `doorstep migrate` name: the four services, and the console (a process of its own).
RUNNABLE = SERVICES + ("console",)


@click.group()
def main():
    """Doorstep (家门口): intake, routing, funds and notify services of a sub-district."""


@main.command()
@common_options
@click.argument("services", nargs=-1, type=click.Choice(RUNNABLE))
@click.option("--port", type=int, help="HTTP port (one service per process) [DOORSTEP_HTTP_PORT, "
                                       "DOORSTEP_CONSOLE_PORT for the console]")
@click.option("--host", help="HTTP bind address [DOORSTEP_HTTP_HOST]")
@click.option("--migrate/--no-migrate", default=None, help="upgrade databases first (default: only for SQLite)")
@click.option("--demo", is_flag=True, help="issue a demo counter token, start the console beside the services "
                                           "with demo users, and print how to try both")
def run(services, street, broker, db, port, host, migrate, demo):
    """Run SERVICES (default: all four in this process), or the console (`doorstep run console`)."""
    from doorstep import runner

    if "console" in services:
        if len(services) > 1:
            raise click.ClickException("the console runs in a process of its own: `doorstep run console`")
        _run_console(street, broker, db, port, host, migrate)
        return
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
    console = None
    if demo:
        _print_demo(settings)
        console = _demo_console(settings)
    try:
        if not runner.run_forever(containers):
            raise SystemExit(1)
    finally:
        if console is not None:
            runner.stop_console_process(console)


def _run_console(street, broker, db, port, host, migrate):
    from console import server
    from console.store import migrate as migrate_console
    from doorstep import runner

    settings = settings_or_exit(street=street, broker_uri=broker, db_template=db, console_port=port, http_host=host)
    logs.configure()
    if runner.ports_in_use(settings, ["console"]):
        raise click.ClickException(f"port {settings.console_port} already in use on {settings.http_host}: is the "
                                   "console running already? (--port or DOORSTEP_CONSOLE_PORT for another)")
    if migrate is None:
        migrate = settings.console_db_url.startswith("sqlite")
    if migrate:
        migrate_console(settings.console_db_url)
    click.echo(f"Doorstep console on http://{settings.http_host}:{settings.console_port}/ "
               f"(intake at {settings.console_api('intake')}, routing {settings.console_api('routing')}, "
               f"funds {settings.console_api('funds')}, notify {settings.console_api('notify')})")
    running = server.Running(settings, settings.http_host, settings.console_port)
    graceful = runner.until_stopped([running.thread.wait])
    running.stop()
    if not graceful:
        raise SystemExit(1)


# The demo's staff, one per everyday job; their passwords are new on every demo run and printed once.
DEMO_USERS = (
    ("demo-counter", "counter", "王芳", "", "shixin"),
    ("demo-handler", "handler", "张经理", "shixin-pm", ""),
    ("demo-treasurer", "treasurer", "李会计", "", ""),
    ("demo-auditor", "auditor", "陈审计", "", ""),
)


def _demo_console(settings):
    """The console as a fifth process beside the services, with a demo user for each job."""
    import secrets

    from console.store import Store, migrate as migrate_console
    from console.users import create_user, reset_password
    from doorstep import runner
    from shared.auth import TokenFile
    from shared.db import utcnow

    if runner.ports_in_use(settings, ["console"]):
        click.echo(f"(port {settings.console_port} is taken: the console is not started)", err=True)
        return None
    migrate_console(settings.console_db_url)
    store, tokens = Store(settings.console_db_url), TokenFile(settings.tokens_file)
    lines = []
    for name, role, display, unit, station in DEMO_USERS:
        password = secrets.token_urlsafe(9)
        if store.user(name) is None:
            create_user(store, tokens, name, role, password, display_name=display, unit=unit, station=station,
                        now=utcnow())
        else:
            reset_password(store, tokens, name, password)
        lines.append(f"  {display}（{role}{'，' + unit if unit else ''}）  {name} / {password}")
    process = runner.start_console_process(settings)
    click.echo(f"\nThe console (工作台): http://{settings.http_host}:{settings.console_port}/  — sign in as\n"
               + "\n".join(lines) + "\n")
    return process


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
    _say_if_quiet_hours(settings)


def _say_if_quiet_hours(settings):
    """Messages recorded now wait for morning: say so, or the demo looks broken at night."""
    from services.notify import settings as notify_settings
    from shared.db import utcnow

    quiet = notify_settings.load(settings).quiet_hours
    until = quiet.until(utcnow()) if quiet else None
    if until is not None:
        click.echo(f"Now is within notify's quiet hours ({quiet.start:%H:%M}–{quiet.end:%H:%M} Shanghai): messages "
                   f"are recorded as deferred and go out at {until:%H:%M}. See them with the deliveries call above "
                   f"(status \"deferred\"), or set quiet_hours: null in {settings.data_dir}/notify.yaml.")


@main.command()
@common_options
@click.argument("services", nargs=-1, type=click.Choice(RUNNABLE))
def migrate(services, street, broker, db):
    """Upgrade SERVICES' databases (default: the four services'; name `console` for the console's) to the latest
    migration, creating missing ones."""
    from doorstep import runner
    from shared.migrations import MissingDatabase

    settings = settings_or_exit(street=street, broker_uri=broker, db_template=db)
    for name in services or SERVICES:
        if name == "console":
            from console.store import migrate as migrate_console

            try:
                migrate_console(settings.console_db_url)
            except MissingDatabase as exc:
                raise click.ClickException(f"console: {exc}") from None
            click.echo(f"console: migrated ({settings.console_db_url.split('@')[-1]})")
            continue
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
from doorstep.users import user  # noqa: E402
from services.funds.cli import ledger  # noqa: E402
from services.intake.cli import catalog  # noqa: E402
from services.routing.cli import routing  # noqa: E402
from doorstep.bench.ledger import bench_ledger  # noqa: E402

for command in (api, token, user, events, dlq, new_street_command, street, district, bench, catalog, ledger, routing,
                residents):
    main.add_command(command)
bench.add_command(bench_ledger)

if __name__ == "__main__":
    main()
