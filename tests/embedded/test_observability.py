"""Dashboards and alert rules only query metrics the services expose, promtool accepts the rules and every
service's scrape output, and a real Prometheus scraping the services answers every dashboard query with series.

promtool and prometheus are required, never optional: `make test` installs them (Debian package `prometheus`)
when missing.
"""
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
import yaml

from support.http import base_url, with_free_ports


ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
RULES = ROOT / "deploy" / "prometheus" / "rules" / "doorstep.rules.yaml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "rules" / "doorstep.rules.test.yaml"
SERVICES = ("intake", "routing", "funds", "notify")

# A Doorstep series name in a query, as written there (doorstep_x_total, doorstep_y_seconds_bucket, ...).
METRIC = re.compile(r"\bdoorstep_[a-z0-9_]+")


def _promtool():
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: make test installs it via apt", pytrace=False)
    return path


@pytest.fixture(scope="module")
def scrapes(tmp_path_factory):
    """The /metrics text of each of the four services started on the embedded default."""
    # Started once for the module (conftest's embedded_settings and start_services are per test); all four
    # share this process, so each scrape also shows the others' families, as `doorstep run` does.
    from kombu.transport import memory

    from doorstep import runner
    from shared.config import load_settings
    from shared.db import dispose_engines

    memory.Channel.queues.clear()
    memory.Channel.events.clear()
    memory.Transport.global_state.clear()
    tmp = tmp_path_factory.mktemp("obs")
    settings = load_settings(environ={}, tokens_file=str(tmp / "tokens.yaml"), data_dir=str(tmp / "var"),
                             db_template=f"sqlite:///{tmp}/var/{{service}}.db", handler_backoff_s=0.05,
                             http_port=None)
    runner.migrate(settings)
    settings = with_free_ports(settings)
    containers = runner.start(settings, SERVICES)
    try:
        texts = {}
        for service in SERVICES:
            response = requests.get(f"{base_url(settings, service)}/metrics", timeout=5)
            assert response.status_code == 200, (service, response.text[:200])
            texts[service] = response.text
    finally:
        for container in reversed(containers):
            container.stop()
        dispose_engines()
    return texts


SAMPLE_SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"),
                   "summary": ("", "_sum", "_count", "_created"), "gauge": ("",), "info": ("_info",),
                   "stateset": ("",), "unknown": ("",)}


def _queryable_names(text):
    """Every series name a query may use for the families in a scrape, whether or not a labelled family has a
    sample yet: counters as <name>_total, histograms as <name>_bucket/_sum/_count, gauges as themselves."""
    from prometheus_client.parser import text_string_to_metric_families

    names = set()
    for family in text_string_to_metric_families(text):
        for suffix in SAMPLE_SUFFIXES[family.type]:
            names.add(family.name + suffix)
    return names


def _sample_names(text):
    names = set()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            names.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
    return names


def _exprs_in_dashboard(node):
    """Every query string in a dashboard: panel targets' ``expr`` and the variables' ``query``/``definition``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "query", "definition") and isinstance(value, str):
                yield value
            else:
                yield from _exprs_in_dashboard(value)
    elif isinstance(node, list):
        for item in node:
            yield from _exprs_in_dashboard(item)


def _dashboard_queries():
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                yield f"{path.stem}: {panel['title']}", target["expr"]


def _rule_exprs():
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            yield rule.get("alert") or rule.get("record"), rule["expr"]


def _queried_metrics():
    """(where, metric name) for every doorstep_ name in a dashboard or alert expression."""
    found = []
    for path in DASHBOARDS:
        for expr in _exprs_in_dashboard(json.loads(path.read_text())):
            found += [(path.name, name) for name in METRIC.findall(expr)]
    for alert, expr in _rule_exprs():
        found += [(f"{RULES.name}:{alert}", name) for name in METRIC.findall(expr)]
    return found


def test_the_five_dashboards_and_the_rules_exist_and_query_doorstep_metrics():
    assert [p.name for p in DASHBOARDS] == ["funds.json", "intake.json", "notify.json", "overview.json",
                                             "routing.json"]
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource", path.name
        assert variables["datasource"]["query"] == "prometheus", path.name
        assert "street" in variables["street"]["query"]["query"], path.name
        assert dashboard["panels"], path.name
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                assert "$street" in target["expr"] or "street=~" in target["expr"], (path.name, panel["title"])
    queried = {name for _, name in _queried_metrics()}
    assert len(queried) >= 15, sorted(queried)


def test_the_name_check_knows_counter_and_histogram_suffixes():
    text = ("# HELP doorstep_x_total x\n# TYPE doorstep_x_total counter\n"
            "# HELP doorstep_y_seconds y\n# TYPE doorstep_y_seconds histogram\n"
            "# HELP doorstep_z z\n# TYPE doorstep_z gauge\ndoorstep_z 1.0\n")
    names = _queryable_names(text)
    assert {"doorstep_x_total", "doorstep_y_seconds_bucket", "doorstep_y_seconds_count", "doorstep_z"} <= names
    assert not {"doorstep_x", "doorstep_y_seconds", "doorstep_y_seconds_total", "doorstep_z_total"} & names


def test_every_metric_a_dashboard_or_rule_queries_is_exposed_by_a_service(scrapes):
    exposed = set().union(*(_queryable_names(text) for text in scrapes.values()))
    missing = sorted({f"{where}: {name}" for where, name in _queried_metrics() if name not in exposed})
    assert not missing, "queried but exposed by no service:\n" + "\n".join(missing)


def test_every_metric_an_alert_uses_has_series_from_start_up(scrapes):
    """increase() and ratios need the labelled series before the first event: the services prime them."""
    with_samples = set().union(*(_sample_names(text) for text in scrapes.values()))
    unprimed = sorted({f"{alert}: {name}" for alert, expr in _rule_exprs() for name in METRIC.findall(expr)
                       if name not in with_samples})
    assert not unprimed, "alert metrics with no series at start-up:\n" + "\n".join(unprimed)


def test_each_service_exposes_its_own_series(scrapes):
    for service, text in scrapes.items():
        assert f'doorstep_outbox_backlog{{service="{service}"}}' in text, service
    assert "doorstep_routing_overdue_assignments{" in scrapes["routing"]
    assert 'doorstep_notify_deliveries_total{channel="' in scrapes["notify"]
    assert 'status="failed"' in scrapes["notify"]
    assert 'doorstep_events_dead_lettered_total{consumer="routing.on_case_accepted"' in scrapes["routing"]
    assert 'reason="sign-overdue"' in scrapes["routing"]


@pytest.mark.tooling("promtool")
def test_promtool_accepts_each_service_scrape(scrapes):
    promtool = _promtool()
    for service, text in scrapes.items():
        result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True,
                                timeout=30)
        assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), (
            service, result.stdout, result.stderr)


@pytest.mark.tooling("promtool")
def test_every_dashboard_query_parses_as_promql(tmp_path):
    """promtool has no offline query parser; each panel query becomes a recording rule it checks."""
    promtool = _promtool()
    rules = []
    for where, expr in _dashboard_queries():
        expr = expr.replace("$__rate_interval", "5m").replace("$street", ".*")
        assert "$" not in expr, (where, expr)
        rules.append({"record": f"dashboard:{where.split(':')[0]}:{len(rules)}", "expr": expr})
    assert len(rules) >= 50
    rule_file = tmp_path / "dashboards.rules.yaml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    check = subprocess.run([promtool, "check", "rules", str(rule_file)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.tooling("promtool")
def test_promtool_checks_and_unit_tests_the_alert_rules():
    promtool = _promtool()
    check = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    tested = subprocess.run([promtool, "test", "rules", str(RULE_TESTS)], capture_output=True, text=True,
                            timeout=60, cwd=RULE_TESTS.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_has_a_firing_and_a_quiet_test_and_a_runbook_section():
    alerts = {name for name, _ in _rule_exprs()}
    runbooks = (ROOT / "docs" / "runbooks.md").read_text()
    fired, quiet = set(), set()
    for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert alerts - fired == set(), f"alerts with no firing test: {sorted(alerts - fired)}"
    assert alerts - quiet == set(), f"alerts with no not-firing test: {sorted(alerts - quiet)}"
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            assert rule.get("for"), rule["alert"]
            assert rule["labels"]["severity"] in ("page", "ticket", "critical", "warning"), rule["alert"]
            assert {"summary", "description", "runbook_url"} <= set(rule["annotations"]), rule["alert"]
            anchor = rule["annotations"]["runbook_url"].rsplit("#", 1)[1]
            assert f"## {rule['alert']}" in runbooks and anchor == rule["alert"].lower(), rule["alert"]


@pytest.fixture
def prometheus(embedded_settings, start_services, counter_token, tmp_path):
    """Debian's Prometheus server (the `prometheus` package that brings promtool) scraping the four services
    every second, as the street's ServiceMonitor would, after one case went through them."""
    from support.http import submit_case
    from support.waiting import case_fully_handled, wait_for
    from doorstep.runner import free_ports

    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus not found: make test installs it via apt (package prometheus)", pytrace=False)
    settings, _ = start_services(embedded_settings)
    token = counter_token(settings)
    case_id = submit_case(settings, token).json()["id"]
    wait_for(lambda: case_fully_handled(settings, token, case_id), message="a case handled")
    # An area's autonomy fund and a gift to the foundation, so the funds panels have books to show.
    treasurer = {"Authorization": f"Bearer {counter_token(settings, role='treasurer')}"}
    funds = base_url(settings, "funds")

    def post(path, body, key=None):
        answer = requests.post(f"{funds}{path}", json=body, timeout=10,
                               headers={**treasurer, **({"Idempotency-Key": key} if key else {})})
        assert answer.status_code == 201, answer.text
        return answer.json()

    post("/funds/areas/shixin/allocations", {"year": 2026, "amount": "50000.00"}, key="allocation")
    donor = post("/funds/donors", {"kind": "company", "name": "企业A"})
    post("/funds/donations", {"donor_id": donor["id"], "amount": "2000.00"}, key="gift")


    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, "scrape_configs": [
        {"job_name": f"doorstep-{service}", "static_configs": [{
            "targets": [f"127.0.0.1:{settings.port(service)}"],
            "labels": {"street": settings.street, "component": service}}]} for service in SERVICES]}
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_ports(["prometheus"])["prometheus"]
    proc = subprocess.Popen([binary, f"--config.file={tmp_path / 'prometheus.yml'}",
                             f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"

    def query(expr):
        return requests.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10).json()

    try:
        # Four scrapes of every target: rate() and increase() need two samples in their window.
        wait_for(lambda: _up(url) and query("min(count_over_time(up[1m])) >= 4")["data"]["result"],
                 timeout=60, interval=0.5, message="four scrapes of every service")
        targets = requests.get(f"{url}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        assert {t["health"] for t in targets} == {"up"}, [(t["scrapeUrl"], t["lastError"]) for t in targets]
        yield query
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _up(url):
    try:
        return requests.get(f"{url}/-/ready", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.mark.tooling("prometheus")
def test_a_real_prometheus_answers_every_dashboard_and_alert_query_with_series(prometheus):
    """The full path short of Grafana: each panel query and alert expression, evaluated by Prometheus on the
    services' live series, succeeds and returns series (an alert expression may be quiet, not wrong)."""
    empty, failed = [], []
    for where, expr in _dashboard_queries():
        answer = prometheus(expr.replace("$__rate_interval", "1m").replace("$street", ".*"))
        if answer["status"] != "success":
            failed.append(f"{where}: {answer.get('error')}")
        elif not answer["data"]["result"]:
            empty.append(f"{where}: {expr}")
    for alert, expr in _rule_exprs():
        answer = prometheus(expr)
        if answer["status"] != "success":
            failed.append(f"{alert}: {answer.get('error')}")
    assert not failed, "\n".join(failed)
    assert not empty, "panels with no series:\n" + "\n".join(empty)
    # And the case that went through is in the figures.
    submitted = prometheus('sum(doorstep_intake_cases_submitted_total{street="lujiazui"})')["data"]["result"]
    assert float(submitted[0]["value"][1]) >= 1
