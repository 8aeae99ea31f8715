"""``doorstep bench …``: benchmarks, each a script with figures measured against a baseline in the same run.

``bench pipeline`` is :mod:`.pipeline` (with :mod:`.infra`, :mod:`.messaging`, :mod:`.load`, :mod:`.ceiling` and
:mod:`.stock`); ``bench ledger`` is :mod:`.ledger`.
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
