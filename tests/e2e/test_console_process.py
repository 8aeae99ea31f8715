"""The console as an operator runs it: `doorstep user …` manages its staff (each user's token in the services'
tokens file, hashed), and `doorstep run console` is a process of its own that reaches the services only at the
URLs it is given — with none running, a page that needs one says so, and signing in still works."""
import os
import re
import signal
import subprocess

import requests
import yaml

from doorstep.runner import free_ports
from support.processes import DOORSTEP
from support.waiting import wait_for


def doorstep(env, *args, stdin=None):
    return subprocess.run([DOORSTEP, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60)


def test_staff_users_and_the_console_process(tmp_path):
    ports = free_ports(["console", "intake", "routing", "funds", "notify"])
    env = {**os.environ, "DOORSTEP_DB": f"sqlite:///{tmp_path}/{{service}}.db",
           "DOORSTEP_TOKENS_FILE": str(tmp_path / "tokens.yaml"), "DOORSTEP_CONSOLE_PORT": str(ports["console"]),
           **{f"DOORSTEP_CONSOLE_{s.upper()}_URL": f"http://127.0.0.1:{ports[s]}"
              for s in ("intake", "routing", "funds", "notify")}}

    made = doorstep(env, "user", "create", "wangfang", "--role", "counter", "--display-name", "王芳",
                    "--station", "shixin", "--password-stdin", stdin="correct horse battery\n")
    assert made.returncode == 0, made.stderr
    wrong_unit = doorstep(env, "user", "create", "zhang", "--role", "handler", "--unit", "nowhere-pm",
                          "--password-stdin", stdin="x" * 12 + "\n")
    assert wrong_unit.returncode != 0 and "shixin-pm" in wrong_unit.stderr
    [entry] = yaml.safe_load((tmp_path / "tokens.yaml").read_text("utf-8"))["tokens"]
    assert (entry["role"], entry["label"]) == ("counter", "console:wangfang,station:shixin")
    listed = doorstep(env, "user", "list")
    assert re.search(r"wangfang\s+counter\s+-\s+shixin\s+王芳", listed.stdout), listed.stdout

    console = subprocess.Popen([DOORSTEP, "run", "console"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{ports['console']}"
    try:
        wait_for(lambda: _answers(f"{url}/readyz"), timeout=60, message="the console ready")
        again = doorstep(env, "run", "console")
        assert again.returncode != 0 and "already in use" in again.stderr

        browser = requests.Session()
        page = browser.get(f"{url}/login", timeout=10)
        assert page.status_code == 200 and "工作人员登录" in page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        signed = browser.post(f"{url}/login", data={"name": "wangfang", "password": "correct horse battery",
                                                    "csrf_token": token}, allow_redirects=False, timeout=10)
        assert (signed.status_code, signed.headers["Location"]) == (303, "/counter")
        counter = browser.get(f"{url}/counter", timeout=10)
        assert counter.status_code == 503 and "受理服务暂时无法访问" in counter.text

        changed = doorstep(env, "user", "password", "wangfang", "--password-stdin", stdin="another good password\n")
        assert changed.returncode == 0, changed.stderr
        [renewed] = yaml.safe_load((tmp_path / "tokens.yaml").read_text("utf-8"))["tokens"]
        assert renewed["id"] != entry["id"]  # the old token is revoked, a new one issued
        assert browser.get(f"{url}/counter", allow_redirects=False, timeout=10).status_code == 303  # signed out
    finally:
        console.send_signal(signal.SIGTERM)
        output = console.communicate(timeout=20)[0]
    assert console.returncode == 0, output


def _answers(url) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.ConnectionError:
        return False
