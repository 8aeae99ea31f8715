"""Each service's HTTP API against its own OpenAPI document, by schemathesis: generated inputs of every shape
(and the edge cases of each declared type) sent to the running embedded system with an admin token. Any 5xx,
any status the document does not list, and any answer that does not match its documented schema fails.

The system runs as `make run` starts it (all four services in one process, SQLite and the in-memory broker),
with every JSON answer also checked against its model inside the services (DOORSTEP_CHECK_ANSWERS).
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.auth import TokenFile
from shared.config import SERVICES
from support.processes import DOORSTEP, ready, stop_processes
from support.waiting import wait_for

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
ST = str(Path(sys.executable).parent / "st")


@pytest.fixture(scope="module")
def running_system(tmp_path_factory):
    from doorstep.runner import free_ports

    home = tmp_path_factory.mktemp("contract")
    ports = free_ports(SERVICES)
    (home / "settings.yaml").write_text("ports: {" + ", ".join(f"{s}: {p}" for s, p in ports.items()) + "}\n",
                                        "utf-8")
    env = {**os.environ, "DOORSTEP_DATA_DIR": str(home / "var"), "DOORSTEP_TOKENS_FILE": str(home / "tokens.yaml"),
           "DOORSTEP_DB": f"sqlite:///{home}/var/{{service}}.db", "DOORSTEP_CHECK_ANSWERS": "true",
           "DOORSTEP_CONFIG": str(home / "settings.yaml"),
           # generated requests come fast from one address: no throttling of the unknown tokens it tries
           "DOORSTEP_AUTH_FAILURE_LIMIT": "1000000"}
    token, _ = TokenFile(str(home / "tokens.yaml")).create("admin", label="contract")
    log = open(home / "services.log", "w")
    proc = subprocess.Popen([DOORSTEP, "run"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=home)
    try:
        for service in SERVICES:
            wait_for(lambda: ready(ports[service]), timeout=90, message=f"{service} ready")
        yield ports, token, home
    finally:
        stop_processes([proc])
        log.close()


@pytest.mark.parametrize("service", SERVICES)
def test_the_api_answers_as_its_document_says(running_system, service, tmp_path):
    ports, token, home = running_system
    result = subprocess.run(
        [ST, "run", f"http://127.0.0.1:{ports[service]}/{service}/openapi.json", "--checks", CHECKS,
         "-H", f"Authorization: Bearer {token}", "--max-examples", "15", "--workers", "1",
         "--phases", "examples,coverage,fuzzing,stateful", "--report-dir", str(tmp_path), "--no-color",
         "--request-timeout", "30", "--seed", "20261129"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    server_errors = [line for line in (home / "services.log").read_text("utf-8").splitlines()
                     if "Traceback" in line or " 500 " in line]
    assert result.returncode == 0, result.stdout[-15000:] + "\n" + "\n".join(server_errors[-20:])
