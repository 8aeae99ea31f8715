"""`doorstep run` as an operator meets it: a second run on a port already taken is refused at once, and a
process whose service container dies ends (non-zero) instead of living on without it."""
import os
import subprocess

import eventlet

from doorstep import runner
from doorstep.runner import free_ports
from support.processes import DOORSTEP, ready, stop_processes
from support.waiting import wait_for


def test_a_second_run_on_a_taken_port_is_refused(tmp_path):
    port = free_ports(["intake"])["intake"]
    env = {**os.environ, "DOORSTEP_DATA_DIR": str(tmp_path / "var"), "DOORSTEP_TOKENS_FILE": str(tmp_path / "t.yaml"),
           "DOORSTEP_DB": f"sqlite:///{tmp_path}/var/{{service}}.db"}
    first = subprocess.Popen([DOORSTEP, "run", "intake", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: ready(port), timeout=60, message="the first run ready")
        second = subprocess.run([DOORSTEP, "run", "intake", "--port", str(port)], env=env, capture_output=True,
                                text=True, timeout=60)
        assert second.returncode != 0 and "already in use" in second.stderr
        assert ready(port) and first.poll() is None  # the first goes on undisturbed
    finally:
        stop_processes([first])


def test_when_a_container_dies_the_others_stop_and_the_run_reports_it(embedded_settings):
    from support.http import with_free_ports

    settings = with_free_ports(embedded_settings)
    containers = runner.start(settings, ["routing", "notify"])
    outcome = eventlet.spawn(runner.run_forever, containers)
    eventlet.sleep(0)  # run_forever is watching
    assert ready(settings.port("notify"))
    containers[0].kill()
    assert outcome.wait() is False
    assert not ready(settings.port("notify"))  # the survivor was stopped, its port released
