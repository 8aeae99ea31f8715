"""``doorstep bench …``: benchmarks, each a script with figures measured against a baseline in the same run.

``bench pipeline`` is :mod:`.pipeline` (with :mod:`.infra`, :mod:`.messaging`, :mod:`.load`, :mod:`.ceiling` and
:mod:`.stock`); ``bench ledger`` is :mod:`.ledger`; ``bench retention`` is :mod:`.retention`.
"""
from __future__ import annotations

import json

import click


@click.group()
def bench():
    """Benchmarks (scripts with figures, not tests)."""


@bench.command("pipeline")
@click.option("--broker", default="amqp://guest:guest@127.0.0.1:5672/", show_default=True)
@click.option("--db", default="postgresql://postgres@127.0.0.1:5432/doorstep_bench_{service}", show_default=True)
@click.option("-n", "--cases", "n", default=2000, show_default=True, help="cases per variant")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object with the figures")
def bench_pipeline(broker, db, n, as_json):
    """Cases through intake → routing → notify on RabbitMQ + PostgreSQL, against two baselines."""
    from doorstep.bench.pipeline import run_pipeline_benchmark

    figures = run_pipeline_benchmark(broker, db, n, progress=not as_json)
    if as_json:
        click.echo(json.dumps(figures))
    else:
        for key, value in figures.items():
            click.echo(f"{key:>24}: {value}")


@bench.command("retention")
@click.option("--db", default="postgresql://postgres@127.0.0.1:5432/doorstep_bench_retention_{service}",
              show_default=True, help="database URL template; each service's database is created afresh")
@click.option("-n", "--rows", "n", default=100_000, show_default=True, help="records of each kind")
@click.option("--batch", default=500, show_default=True, help="records of each kind a pass handles")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object with the figures")
def bench_retention(db, n, batch, as_json):
    """One retention pass of intake, routing and notify on 1,000 and on N records of each kind."""
    from doorstep.bench.retention import run_retention_benchmark

    figures = run_retention_benchmark(db, n, batch, progress=None if as_json else click.echo)
    if as_json:
        click.echo(json.dumps(figures, ensure_ascii=False))
        return
    for key, value in figures.items():
        if isinstance(value, list):
            click.echo(f"{key:>28}:")
            for line in value:
                click.echo(f"{'':>30}{line}")
        else:
            click.echo(f"{key:>28}: {value}")
