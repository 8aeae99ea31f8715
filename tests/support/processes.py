"""The service processes a test starts (`doorstep run`, the pods of a rendered street)."""
import signal
import subprocess
import sys
from pathlib import Path

import requests

DOORSTEP = str(Path(sys.executable).parent / "doorstep")


def stop_processes(procs) -> None:
    """SIGTERM every process still running (a graceful nameko stop), then kill any that outlast 20 s."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def ready(port: int) -> bool:
    """Whether the service on ``port`` answers its readiness probe."""
    try:
        return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False
