"""The load and what it observes: closed-loop HTTP clients submitting cases, the tracker that sees each case
finish (or fail) from the events on the broker, the wait that watches children and progress, and percentiles.

Every client submits a case, waits until both of its ``notification.sent`` events have arrived and then submits
the next, so the window of cases in flight stays fixed.
"""
from __future__ import annotations

import dataclasses
import http.client
import json
import math
import time

from doorstep.bench.infra import PIPELINE_SERVICES, BenchmarkError, CpuMeter, Infra
from doorstep.bench.messaging import Observer

WARMUP_CASES = 20
STALL_TIMEOUT_S = 60.0
FINAL_EXCHANGE = "notify.events"
FINAL_KEY = "notification.sent.v1"
DEAD_LETTER_EXCHANGE = "doorstep.dead-letter"  # as shared.broker declares it (direct, key = service)
FINAL_CAUSE = "doorstep.routing.case.routed.v1"
EVENTS_PER_CASE = 2  # for a routed case notify sends one message to the resident and one to the unit

# Matters handled elsewhere (收受分离), so every case is routed and notified.
_MATTERS = ("property-repair", "parking-dispute", "senior-card", "neighbour-mediation", "residence-permit",
            "property-fee-dispute")
_AREAS = ("shixin", "meiyuan")


def _case_body(i: int) -> bytes:
    return json.dumps({
        "matter_code": _MATTERS[i % len(_MATTERS)],
        "channel": "counter",  # accepted at once at the counter, then routed
        "description": f"基准测试事项 {i}：楼道灯不亮，请尽快处理。",
        "resident": {"name": "王阿姨", "phone": f"139{i:08d}", "area": _AREAS[i % len(_AREAS)],
                     "building": f"{i % 40 + 1}号", "room": f"{i % 30 + 101}"},
    }, ensure_ascii=False).encode("utf-8")


class _Tracker:
    """Which cases finished when, from the events the observer sees.

    A case is done at its second ``notification.sent`` caused by its ``case.routed`` (notices about other
    events of the case do not count). A case whose event was dead-lettered by routing or notify never will
    be: it is counted as failed at once instead of stalling its client.
    """

    def __init__(self):
        self.seen: dict[str, int] = {}
        self.done_at: dict[str, float] = {}
        self.failed: dict[str, str] = {}
        self.dead_letters: dict[str, int] = {}
        self.waiters: dict[str, object] = {}
        self.envelope_bytes = 0
        self.ignored = 0

    def on_message(self, message) -> None:
        now = time.perf_counter()
        info = message.delivery_info or {}
        if info.get("exchange") == DEAD_LETTER_EXCHANGE:
            self._on_dead_letter(message, info.get("routing_key", ""))
            return
        try:
            data = json.loads(message.body)["data"]
        except (ValueError, KeyError, TypeError):
            self.ignored += 1
            return
        case_id = data.get("case_id")
        if data.get("cause_type") != FINAL_CAUSE or not case_id:  # notices about other events of the case
            self.ignored += 1
            return
        self.envelope_bytes = len(message.body)
        count = self.seen[case_id] = self.seen.get(case_id, 0) + 1
        if count == EVENTS_PER_CASE:
            self.done_at[case_id] = now
            self._wake(case_id, now)

    def _on_dead_letter(self, message, service: str) -> None:
        headers = message.headers or {}
        key = f"{headers.get('x-consumer', service)}: {str(headers.get('x-error', '?'))[:160]}"
        self.dead_letters[key] = self.dead_letters.get(key, 0) + 1
        try:
            case_id = json.loads(message.body)["data"]["case_id"]
        except (ValueError, KeyError, TypeError):
            return
        if service != "intake":  # intake's own status update does not hold up the notifications
            self.failed[case_id] = key
            self._wake(case_id, None)

    def _wake(self, case_id, value) -> None:
        waiter = self.waiters.pop(case_id, None)
        if waiter is not None:
            waiter.send(value)

    def wait(self, case_id: str, timeout: float) -> float | None:
        """When the case completed (``perf_counter`` time), or None if it failed."""
        import eventlet

        if case_id in self.done_at:
            return self.done_at[case_id]
        if case_id in self.failed:
            return None
        waiter = self.waiters[case_id] = eventlet.event.Event()
        try:
            with eventlet.Timeout(timeout):
                return waiter.wait()
        except eventlet.Timeout:
            raise BenchmarkError(
                f"case {case_id} did not complete within {timeout:.0f}s and was not dead-lettered "
                f"({self.seen.get(case_id, 0)} of {EVENTS_PER_CASE} {FINAL_KEY} events seen)") from None


@dataclasses.dataclass
class _Phase:
    total: int
    submitted: dict = dataclasses.field(default_factory=dict)  # case id -> submit time
    latencies: list = dataclasses.field(default_factory=list)
    rejected: list = dataclasses.field(default_factory=list)  # submits intake answered with a 5xx
    failed: int = 0

    @property
    def finished(self) -> int:
        return len(self.latencies) + len(self.rejected) + self.failed


def drive(uri: str, port: int, token: str, n: int, window: int, infra: Infra, variant: str, say) -> dict:
    """Warm up, then push ``n`` cases through ``window`` closed-loop HTTP clients; measure."""
    tracker = _Tracker()
    observer = Observer(uri, "bench.arrivals", [
        (FINAL_EXCHANGE, "topic", FINAL_KEY),
        *((DEAD_LETTER_EXCHANGE, "direct", service) for service in PIPELINE_SERVICES),
    ], tracker.on_message)
    try:
        _run_clients(port, token, range(10_000_000, 10_000_000 + WARMUP_CASES), min(window, 10), tracker,
                     infra, observer, "warm-up", say)
        meter = CpuMeter(infra.children, infra.databases)
        phase = _run_clients(port, token, range(n), window, tracker, infra, observer, variant, say)
        cpu = meter.per_case_ms(max(1, len(phase.submitted)))
    finally:
        observer.close()
    completed = [c for c in phase.submitted if c in tracker.done_at]
    if not completed:
        raise BenchmarkError(f"{variant}: no case completed")
    elapsed = max(tracker.done_at[c] for c in completed) - min(phase.submitted.values())
    latencies = sorted(phase.latencies)
    return {
        "cases_per_s": round(len(completed) / elapsed, 1),
        "p50_ms": round(_percentile(latencies, 50) * 1000, 1),
        "p95_ms": round(_percentile(latencies, 95) * 1000, 1),
        "p99_ms": round(_percentile(latencies, 99) * 1000, 1),
        "seconds": round(elapsed, 2),
        "completed": len(completed),
        "rejected_submits": len(phase.rejected),
        "failed_cases": phase.failed,
        "dead_letters": dict(tracker.dead_letters),
        "other_events_seen": tracker.ignored,
        "cpu_ms_per_case": cpu,
        "envelope_bytes": tracker.envelope_bytes,
    }


def _run_clients(port, token, indexes, clients, tracker, infra, observer, label, say) -> _Phase:
    import eventlet

    phase = _Phase(len(indexes))
    shared_indexes = iter(indexes)
    pool = [eventlet.spawn(_client, port, token, shared_indexes, tracker, phase)
            for _ in range(min(clients, phase.total))]
    done = eventlet.event.Event()

    def watch():
        try:
            for gt in pool:
                gt.wait()
        except BaseException as exc:  # handed to the waiting loop, which raises it
            done.send(exc)
        else:
            done.send(True)

    watcher = eventlet.spawn(watch)
    try:
        wait_event(done, lambda: phase.finished, phase.total, infra, observer, label, say)
    finally:
        for gt in pool:
            gt.kill()
        watcher.kill()
    if len(phase.rejected) > max(3, phase.total // 100):
        raise BenchmarkError(f"{label}: intake rejected {len(phase.rejected)} submits, e.g. {phase.rejected[0]}")
    return phase


def _client(port: int, token: str, indexes, tracker: _Tracker, phase: _Phase) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        for i in indexes:
            body = _case_body(i)
            started = time.perf_counter()
            conn.request("POST", "/intake/cases", body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            if response.status >= 500:
                phase.rejected.append(f"{response.status} {payload[:200]!r}")
                continue
            if response.status != 201:
                raise BenchmarkError(f"POST /intake/cases answered {response.status}: {payload[:300]!r}")
            case_id = json.loads(payload)["id"]
            phase.submitted[case_id] = started
            finished = tracker.wait(case_id, STALL_TIMEOUT_S)
            if finished is None:
                phase.failed += 1
            else:
                phase.latencies.append(finished - started)
    finally:
        conn.close()


def _percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def wait_event(event, count, total: int, infra: Infra, observer: Observer, phase: str, say, worker=None):
    """Wait for ``event`` while checking children, the observer and progress; report every two seconds."""
    last_count, last_change, last_report = -1, time.monotonic(), time.monotonic()
    while True:
        event.wait(timeout=0.5)
        if event.ready():
            value = event.wait()
            if isinstance(value, BaseException):
                raise value
            say(f"  {phase}: {count()}/{total} done")
            return value
        for child in infra.children:
            child.check()
        if observer.error is not None:
            raise BenchmarkError(f"observer failed: {observer.error!r}")
        if worker is not None and worker.dead:
            worker.wait()  # re-raises its error, if any
        now = time.monotonic()
        current = count()
        if current != last_count:
            last_count, last_change = current, now
        elif now - last_change > STALL_TIMEOUT_S:
            raise BenchmarkError(f"{phase}: no progress for {STALL_TIMEOUT_S:.0f}s at {current}/{total}")
        if now - last_report >= 2.0:
            last_report = now
            say(f"  {phase}: {current}/{total}")
