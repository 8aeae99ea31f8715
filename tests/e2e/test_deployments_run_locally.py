"""The rendered street, run as the cluster would run it but as local processes: the migration Job's command,
then each Deployment's command with its ConfigMap environment, its mounted street ConfigMap and tokens Secret,
answering on its startup, liveness and readiness probes; then a case through the pods, shaped by the street's
own configuration (huamu's catalog drops a matter and shortens a time limit)."""
import subprocess

import pytest
import requests

from doorstep.runner import free_ports
from shared.auth import TokenFile
from shared.config import SERVICES
from support.http import CASE
from support.k8s import LocalPod, OVERLAYS, find, render
from support.processes import stop_processes
from support.waiting import wait_for

STREET = "huamu"


@pytest.fixture
def street(pg_databases, amqp_url, tmp_path):
    objects = render(OVERLAYS / STREET)
    tokens = tmp_path / "tokens.yaml"
    token, _ = TokenFile(str(tokens)).create("counter", label="陈社工")
    secrets = {"doorstep-broker": {"uri": amqp_url}, "doorstep-tokens": {"tokens.yaml": tokens.read_text("utf-8")},
               **{f"doorstep-{s}-db": {"url": pg_databases.format(service=s)} for s in SERVICES}}
    return objects, secrets, token


@pytest.mark.tooling("kubectl")
def test_each_deployment_command_starts_and_answers_its_probes(street, tmp_path):
    objects, secrets, token = street
    migrate = LocalPod(objects, find(objects, "Job", "doorstep-migrate"), secrets, tmp_path / "migrate")
    done = subprocess.run(migrate.command, env=migrate.environment(), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr

    ports = free_ports(SERVICES)
    pods, procs = {}, {}
    try:
        for service in SERVICES:
            pod = LocalPod(objects, find(objects, "Deployment", f"doorstep-{service}"), secrets, tmp_path / service)
            env = pod.environment(DOORSTEP_HTTP_PORT=str(ports[service]))  # four "pods" share one host here
            assert env["DOORSTEP_STREET"] == STREET and env["DOORSTEP_STREET_DIR"].startswith(str(tmp_path))
            pods[service] = pod
            procs[service] = subprocess.Popen(pod.command, env=env, stdout=subprocess.PIPE,
                                              stderr=subprocess.STDOUT, text=True)
        for service, pod in pods.items():
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                get = pod.container[probe]["httpGet"]
                assert get["port"] == "http" and pod.port("http") == 8080
                url = f"http://127.0.0.1:{ports[service]}{get['path']}"
                wait_for(lambda: _answers(url, procs[service]), timeout=60, interval=0.2,
                         message=f"{service} {probe} {get['path']}")

        # The street's catalog from the mounted ConfigMap is the one intake serves.
        intake = f"http://127.0.0.1:{ports['intake']}"
        auth = {"Authorization": f"Bearer {token}"}
        removed = requests.get(f"{intake}/intake/catalog/bulky-waste-collection", timeout=5)
        assert removed.status_code == 404 and "not in the catalog" in removed.json()["detail"]
        assert requests.get(f"{intake}/intake/catalog/property-repair", timeout=5).json()["time_limit_days"] == 2
        created = requests.post(f"{intake}/intake/cases", json=CASE, headers=auth, timeout=10)
        assert created.status_code == 201, created.text
        case_url = f"{intake}/intake/cases/{created.json()['id']}"
        wait_for(lambda: requests.get(case_url, headers=auth, timeout=5).json()["status"] == "routed", timeout=30,
                 message="the case routed by the routing pod")
    finally:
        stop_processes(procs.values())


def _answers(url, proc):
    if proc.poll() is not None:
        raise AssertionError(f"{url}: the process exited ({proc.returncode}):\n{proc.stdout.read()}")
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.ConnectionError:
        return False
