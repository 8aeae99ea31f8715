"""What a benchmark run stands on, and how it is taken down again whatever happens.

RabbitMQ vhosts and PostgreSQL databases made fresh per variant and dropped afterwards; child processes started
in their own session, stopped by pid, their output kept in log files; waits until services answer and consumers
listen; signal handling so that Ctrl-C and SIGTERM still clean up; and the CPU meter that says where the time of a
phase went (from ``/proc``).
"""
from __future__ import annotations

import contextlib
import dataclasses
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

PIPELINE_SERVICES = ("routing", "notify", "intake")  # the services of the flow; funds is not needed
READY_TIMEOUT_S = 60.0
VHOST_PREFIX = "doorstep-bench-"


class BenchmarkError(RuntimeError):
    """The benchmark could not produce honest figures (a service died, a case got lost, the setup failed)."""


class Reporter:
    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __call__(self, text: str) -> None:
        if self.enabled:
            print(text, file=sys.stderr, flush=True)


class Infra:
    """Creates what a variant needs and remembers it, so everything is removed however the run ends."""

    def __init__(self, broker_uri: str, db_template: str, say):
        self.broker_uri = broker_uri
        self.db_template = db_template
        self.say = say
        self.vhosts: list[str] = []
        self.databases: list[str] = []
        self.children: list[Child] = []

    # RabbitMQ --------------------------------------------------------------------------------------------
    def vhost(self, variant: str) -> str:
        """A fresh vhost for the variant; returns the broker URI that points at it."""
        name = f"{VHOST_PREFIX}{os.getpid()}-{variant}"
        _rabbitmqctl("delete_vhost", name, check=False)
        _rabbitmqctl("add_vhost", name)
        self.vhosts.append(name)
        _rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        parts = urllib.parse.urlsplit(self.broker_uri)
        return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))

    # PostgreSQL ------------------------------------------------------------------------------------------
    def variant_template(self, variant: str) -> str:
        return self.db_template.replace("{service}", variant + "_{service}")

    def databases_for(self, variant: str) -> list[str]:
        return [_database_name(self.variant_template(variant).format(service=s)) for s in PIPELINE_SERVICES]

    def create_databases(self, variant: str) -> None:
        for name in self.databases_for(variant):
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self._admin(f'CREATE DATABASE "{name}"')
            self.databases.append(name)

    def drop_databases(self, names) -> None:
        for name in names:
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self, statement: str) -> None:
        import psycopg2
        import sqlalchemy as sa

        url = sa.engine.make_url(self.db_template.format(service="x"))
        args = url.translate_connect_args(username="user")
        args["dbname"] = "postgres"
        args.pop("database", None)
        conn = psycopg2.connect(**args)
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(statement)
        finally:
            conn.close()

    # both ------------------------------------------------------------------------------------------------
    def remove_stale(self) -> None:
        """Vhosts of benchmark runs that are no longer alive, and this run's database names."""
        listed = _rabbitmqctl("list_vhosts", "name", check=False)
        for name in listed.split():
            match = re.match(re.escape(VHOST_PREFIX) + r"(\d+)-", name)
            if match and not _alive(int(match.group(1))):
                self.say(f"bench: removing stale vhost {name}")
                _rabbitmqctl("delete_vhost", name, check=False)
        for variant in ("outbox", "stock"):
            self.drop_databases(self.databases_for(variant))

    def stop_children(self) -> None:
        while self.children:
            child = self.children.pop()
            try:
                child.stop()
            except Exception as exc:  # keep stopping the others
                self.say(f"bench: could not stop {child.name} (pid {child.process.pid}): {exc}")

    def release_variant(self) -> None:
        """Everything a variant created: children first (they hold connections), then vhost and databases.

        A second Ctrl-C would leave processes, vhosts and databases behind, so it is ignored meanwhile.
        """
        with _sigint_ignored():
            self._release()

    def _release(self) -> None:
        self.stop_children()
        while self.vhosts:
            name = self.vhosts.pop()
            try:
                _rabbitmqctl("delete_vhost", name)
            except Exception as exc:  # keep cleaning up the rest
                self.say(f"bench: could not delete vhost {name}: {exc}")
        names, self.databases = self.databases, []
        try:
            self.drop_databases(names)
        except Exception as exc:
            self.say(f"bench: could not drop databases {names}: {exc}")

    cleanup = release_variant


def recreate_database(url: str, benchmark: str) -> None:
    """The PostgreSQL database of ``url``, dropped if it exists and created empty."""
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"the {benchmark} benchmark needs PostgreSQL (--db postgresql://…)")
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def _database_name(url: str) -> str:
    import sqlalchemy as sa

    return sa.engine.make_url(url).database


def _rabbitmqctl(*args, check: bool = True) -> str:
    # Its own session: a Ctrl-C at the terminal must not cut a clean-up call short.
    done = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=120,
                          start_new_session=True)
    if check and done.returncode != 0:
        raise BenchmarkError(f"rabbitmqctl {' '.join(args)} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclasses.dataclass
class Child:
    """A process this benchmark started: stopped by its pid, its output kept in a log file."""

    name: str
    process: subprocess.Popen
    log_path: Path

    def check(self) -> None:
        if self.process.poll() is not None:
            raise BenchmarkError(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # a graceful stop, as a pod gets
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def spawn(infra: Infra, name: str, argv: list[str], env: dict, workdir: Path) -> Child:
    log_path = workdir / f"{name}.log"
    with open(log_path, "wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   cwd=str(Path(__file__).resolve().parents[2]), start_new_session=True)
    child = Child(name, process, log_path)
    infra.children.append(child)
    return child


def child_env(**doorstep) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOORSTEP_") or k in _TUNING_VARS}
    env.update({k: str(v) for k, v in doorstep.items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env


# Service tuning may be passed through to the children; where they find their databases and broker may not.
_TUNING_VARS = {"DOORSTEP_MAX_WORKERS", "DOORSTEP_RELAY_BATCH_SIZE", "DOORSTEP_RELAY_POLL_S",
                "DOORSTEP_CONSUMER_BATCH_SIZE", "DOORSTEP_RELAY_LINGER_S",
                "DOORSTEP_HANDLER_ATTEMPTS", "DOORSTEP_HANDLER_BACKOFF_S", "DOORSTEP_STREET"}


def remove_dir(path: Path, keep: bool, say) -> None:
    if keep:
        say(f"bench: logs kept in {path}")
    else:
        shutil.rmtree(path, ignore_errors=True)


def interrupt_on_sigterm():
    """SIGTERM unwinds like Ctrl-C, so the clean-up runs; returns a function restoring the old handler."""
    try:
        previous = signal.getsignal(signal.SIGTERM)

        def _raise(signum, frame):
            raise KeyboardInterrupt(f"signal {signum}")

        signal.signal(signal.SIGTERM, _raise)
    except ValueError:  # not the main thread
        return lambda: None
    return lambda: signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _sigint_ignored():
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def require_green() -> None:
    import eventlet.patcher

    if not eventlet.patcher.is_monkey_patched("socket"):
        raise RuntimeError("run the benchmark under eventlet.monkey_patch() (the doorstep CLI does)")


class CpuMeter:
    """CPU seconds spent during a phase by each child, this process, RabbitMQ and PostgreSQL (Linux /proc).

    Where the time goes on a machine whose cores everything shares: divided by the cases done, it is the
    CPU cost of one case in each component.
    """

    def __init__(self, children, databases=()):
        self.children = list(children)
        self.databases = set(databases)
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._start = self._sample()

    def _sample(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        own = {child.process.pid: child.name for child in self.children}
        own[os.getpid()] = "bench"
        try:
            pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
        except OSError:
            return {}
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat", "rb") as fh:
                    raw = fh.read().decode("ascii", "replace")
            except OSError:
                continue
            comm = raw[raw.index("(") + 1:raw.rindex(")")]
            fields = raw[raw.rindex(")") + 2:].split()
            seconds = (int(fields[11]) + int(fields[12])) / self._tick  # utime + stime
            group = own.get(pid) or {"beam.smp": "rabbitmq"}.get(comm)
            if comm == "postgres":
                group = self._postgres_group(pid)
            if group:
                totals[group] = totals.get(group, 0.0) + seconds
        try:
            with open("/proc/stat") as fh:
                cpu = [int(v) for v in fh.readline().split()[1:]]
            totals["machine_busy"] = (sum(cpu) - cpu[3] - cpu[4]) / self._tick
            totals["machine_all"] = sum(cpu) / self._tick
        except (OSError, ValueError, IndexError):
            pass
        return totals

    def _postgres_group(self, pid: int) -> str:
        """A backend of this variant's databases, the server's own processes, or another client's backend."""
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                title = fh.read().decode("utf-8", "replace").replace("\0", " ").split()
        except OSError:
            return "postgres_other"
        # "postgres: 15/main: <user> <database> <client> <state>" for a backend, "postgres: 15/main: walwriter" …
        if len(title) >= 5 and ("(" in title[4] or title[4] == "[local]"):
            return "postgres" if title[3] in self.databases else "postgres_other"
        return "postgres_server"

    def per_case_ms(self, cases: int) -> dict:
        end = self._sample()
        used = {k: end[k] - self._start.get(k, 0.0) for k in end}
        result = {k: round(v * 1000 / cases, 1) for k, v in sorted(used.items())
                  if not k.startswith("machine") and k != "postgres_other" and v > 0}
        if used.get("machine_all"):
            ours = sum(v for k, v in used.items() if not k.startswith("machine") and k != "postgres_other")
            # Anything else running meanwhile (other jobs on a shared machine) shows up here.
            result["other_processes"] = round(max(0.0, used["machine_busy"] - ours) * 1000 / cases, 1)
            result["machine_busy_pct"] = round(100 * used["machine_busy"] / used["machine_all"], 1)
        return result


def wait_ready(port: int, infra: Infra) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        for child in infra.children:
            child.check()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        time.sleep(0.2)
    raise BenchmarkError(f"no service became ready on port {port} within {READY_TIMEOUT_S:.0f}s")


def wait_for_consumers(uri: str, queues, infra: Infra) -> None:
    """Wait until every queue named has a consumer.

    A message published before its queue is bound would be dropped by the exchange (nameko publishes with
    ``mandatory=False``), so the first case must not go out before every consumer is listening.
    """
    import amqp.exceptions
    import kombu

    deadline = time.monotonic() + READY_TIMEOUT_S
    waiting = list(queues)
    with kombu.Connection(uri, connect_timeout=5) as conn:
        while waiting:
            if time.monotonic() > deadline:
                raise BenchmarkError(f"no consumer on {', '.join(waiting)} within {READY_TIMEOUT_S:.0f}s")
            for child in infra.children:
                child.check()
            channel = conn.channel()
            try:
                while waiting and channel.queue_declare(queue=waiting[0], passive=True).consumer_count > 0:
                    waiting.pop(0)
            except amqp.exceptions.NotFound:
                pass  # not declared yet; the broker closed this channel
            else:
                channel.close()
            if waiting:
                time.sleep(0.2)
