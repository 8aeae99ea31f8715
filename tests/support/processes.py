"""The service processes a test starts (`doorstep run`, the pods of a rendered street)."""
import signal
import subprocess


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
