"""Fixtures shared by every tier.

Tests that need the real RabbitMQ or PostgreSQL (URLs from DOORSTEP_TEST_AMQP / DOORSTEP_TEST_PG, defaulting
to this machine) fail — never skip — with a message naming the one that is unreachable. Each such test gets
fresh databases and its own RabbitMQ virtual host, so no queue or row leaks from one test into the next.
"""
import eventlet

eventlet.monkey_patch()  # as `nameko run` does: psycopg2 and sockets cooperate with green threads

import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import uuid  # noqa: E402
from urllib.parse import quote  # noqa: E402

import kombu  # noqa: E402
import psycopg2  # noqa: E402
import pytest  # noqa: E402

from shared.config import SERVICES, load_settings  # noqa: E402
from shared.db import dispose_engines  # noqa: E402
from support.broker import rabbitmqctl  # noqa: E402
from support.http import with_free_ports  # noqa: E402
from support.notify import notify_off_the_clock  # noqa: E402

AMQP_URL = os.environ.get("DOORSTEP_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/")
PG_URL = os.environ.get("DOORSTEP_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def pytest_addoption(parser):
    parser.addoption("--keep-infra", action="store_true", help="keep test databases and vhosts for inspection")


# -- PostgreSQL ------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def pg_admin():
    try:
        conn = psycopg2.connect(PG_URL, connect_timeout=3)
    except psycopg2.OperationalError as exc:
        pytest.fail(f"PostgreSQL is unreachable at {PG_URL} (set DOORSTEP_TEST_PG): {exc}", pytrace=False)
    conn.autocommit = True
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def pg_server(pg_admin) -> str:
    """The reachable PostgreSQL server's URL, without a database: ``postgresql://user@host:port``."""
    return PG_URL.rsplit("/", 1)[0]


@pytest.fixture
def pg_databases(pg_admin, request):
    """Four fresh databases, one per service; returns the URL template with {service}."""
    prefix = f"dst_{uuid.uuid4().hex[:10]}"
    with pg_admin.cursor() as cur:
        for service in SERVICES:
            cur.execute(f'CREATE DATABASE "{prefix}_{service}"')
    base = PG_URL.rsplit("/", 1)[0]
    yield f"{base}/{prefix}_{{service}}"
    dispose_engines()
    if not request.config.getoption("--keep-infra"):
        with pg_admin.cursor() as cur:
            for service in SERVICES:
                cur.execute(f'DROP DATABASE IF EXISTS "{prefix}_{service}" WITH (FORCE)')


@pytest.fixture(scope="module")
def _funds_database(pg_admin):
    """One migrated funds database per module, for tests driving funds' handlers directly (creating and
    dropping one per test costs seconds)."""
    from shared.migrations import upgrade

    name = f"dst_{uuid.uuid4().hex[:10]}_funds"
    with pg_admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_URL.rsplit('/', 1)[0]}/{name}"
    upgrade("funds", url)
    yield url
    dispose_engines()
    with pg_admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def funds_db(_funds_database):
    """The module's funds database, emptied before each test."""
    import sqlalchemy as sa

    from services.funds.persistence import metadata
    from shared.db import engine_for

    tables = [t.name for t in reversed(metadata.sorted_tables)] + ["outbox", "inbox"]
    with engine_for(_funds_database).begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    return _funds_database


# -- RabbitMQ --------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def rabbit_reachable():
    try:
        with kombu.Connection(AMQP_URL, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:
        pytest.fail(f"RabbitMQ is unreachable at {AMQP_URL} (set DOORSTEP_TEST_AMQP): {exc}", pytrace=False)
    return AMQP_URL


@pytest.fixture(scope="session")
def _vhost_deletions():
    """Deleting a vhost takes a second of rabbitmqctl; do it in the background, wait once at the end."""
    pending = []
    yield pending
    for proc in pending:
        proc.wait(timeout=60)


@pytest.fixture
def amqp_url(rabbit_reachable, request, _vhost_deletions):
    """A fresh virtual host on the real broker (falls back to the default vhost without rabbitmqctl)."""
    if shutil.which("rabbitmqctl") is None:
        yield rabbit_reachable
        return
    vhost = f"doorstep-test-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    yield rabbit_reachable.rstrip("/") + "/" + quote(vhost, safe="")
    if not request.config.getoption("--keep-infra"):
        _vhost_deletions.append(subprocess.Popen(["rabbitmqctl", "-q", "delete_vhost", vhost],
                                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))


# -- settings and running services -----------------------------------------------------------------------

@pytest.fixture
def infra_settings(pg_databases, amqp_url, tmp_path):
    """Settings for the real broker and PostgreSQL, databases migrated."""
    from doorstep import runner

    settings = load_settings(environ={}, broker_uri=amqp_url, db_template=pg_databases,
                             tokens_file=str(tmp_path / "tokens.yaml"), data_dir=str(tmp_path / "var"),
                             handler_backoff_s=0.05, relay_poll_s=0.05, check_answers=True)
    runner.migrate(settings)
    notify_off_the_clock(settings.data_dir)
    return settings


@pytest.fixture
def embedded_settings(tmp_path):
    """Settings for the embedded default: SQLite files and the in-memory broker."""
    from kombu.transport import memory

    from doorstep import runner

    # kombu's in-memory broker is one per process: start each test with no queue, message or binding left
    # over from the one before.
    memory.Channel.queues.clear()
    memory.Channel.events.clear()
    memory.Transport.global_state.clear()

    settings = load_settings(environ={}, tokens_file=str(tmp_path / "tokens.yaml"), data_dir=str(tmp_path / "var"),
                             db_template=f"sqlite:///{tmp_path}/var/{{service}}.db", handler_backoff_s=0.05,
                             http_port=None, check_answers=True)
    runner.migrate(settings)
    notify_off_the_clock(settings.data_dir)
    yield settings
    dispose_engines()


@pytest.fixture
def start_services():
    """Start services in this process; every container is stopped at teardown."""
    from doorstep import runner

    started = []

    def _start(settings, names=SERVICES, *, service_class=None):
        """Start the named services, or one ``service_class`` (a test double of a service)."""
        settings = with_free_ports(settings)
        if service_class is not None:
            from nameko.containers import ServiceContainer

            container = ServiceContainer(service_class, settings.nameko_config(service_class.name))
            container.start()
            containers = [container]
        else:
            containers = runner.start(settings, names)
        started.extend(containers)
        return settings, containers

    yield _start
    for container in reversed(started):
        try:
            container.stop()
        except Exception:  # a test may already have killed it
            container.kill()


@pytest.fixture
def counter_token(tmp_path):
    from shared.auth import TokenFile

    def _token(settings, role="counter"):
        return TokenFile(settings.tokens_file).create(role, label="test")[0]

    return _token
