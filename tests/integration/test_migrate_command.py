"""`doorstep migrate` on a PostgreSQL server without the databases creates them; where the user may not,
it says exactly what to run — never a traceback."""
import os
import subprocess
import uuid

import pytest

from support.processes import DOORSTEP


def _run(env):
    return subprocess.run([DOORSTEP, "migrate"], env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=180)


def _drop(pg_admin, prefix):
    with pg_admin.cursor() as cur:
        for service in ("intake", "routing", "funds", "notify"):
            cur.execute(f'DROP DATABASE IF EXISTS "{prefix}_{service}" WITH (FORCE)')


def test_migrate_creates_the_missing_databases(pg_admin, pg_server):
    prefix = f"dst_new_{uuid.uuid4().hex[:8]}"
    try:
        result = _run({"DOORSTEP_DB": f"{pg_server}/{prefix}_{{service}}"})
        assert result.returncode == 0, result.stderr
        assert result.stdout.count("created and migrated") == 4
        again = _run({"DOORSTEP_DB": f"{pg_server}/{prefix}_{{service}}"})
        assert again.returncode == 0 and "created" not in again.stdout
    finally:
        _drop(pg_admin, prefix)


@pytest.fixture
def plain_user(pg_admin):
    name = f"dst_user_{uuid.uuid4().hex[:8]}"
    with pg_admin.cursor() as cur:
        cur.execute(f'CREATE ROLE "{name}" LOGIN NOCREATEDB')
    yield name
    with pg_admin.cursor() as cur:
        cur.execute(f'DROP ROLE IF EXISTS "{name}"')


def test_a_user_who_may_not_create_databases_is_told_what_to_run(plain_user, pg_server):
    prefix = f"dst_new_{uuid.uuid4().hex[:8]}"
    host = pg_server.split("@", 1)[1]
    result = _run({"DOORSTEP_DB": f"postgresql://{plain_user}@{host}/{prefix}_{{service}}"})
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f'CREATE DATABASE "{prefix}_intake" OWNER "{plain_user}";' in result.stderr
