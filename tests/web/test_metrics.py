"""GET /metrics (web/metrics.py, core/telemetry.py): guarded like the core API, the
Prometheus text format, event counts by kind/outcome/tenant, latency histograms, and
lock-free recording that loses no observation across threads.

Mutants tried: /metrics left out of the core API's guard (served before _check_caller):
test_metrics_are_guarded_like_the_core_api fails. One survives: Histogram.observe sharing
one cell between threads (the GIL makes lost increments too rare for the threads test
to see); the per-thread cells are there for free-threaded builds and by design."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from doorkeep import Doorkeep, Settings
from doorkeep.core.telemetry import VERIFY_SAMPLE_EVERY, Counter, Histogram
from doorkeep.serve.server import create_app
from doorkeep.testing import serve_in_thread

KEY = "metrics-test-key-0123456789"
PASSWORD = "correct horse battery"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition: (name, sorted labels) -> value."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def sign_up_body(email: str, password: str = PASSWORD) -> dict[str, object]:
    return {"formFields": [{"id": "email", "value": email}, {"id": "password", "value": password}]}


def test_recording_from_many_threads_loses_nothing() -> None:
    histogram = Histogram("h", (0.001, 0.01))
    counter = Counter()

    def record() -> None:
        for i in range(20_000):
            histogram.observe(0.005 if i % 2 else 0.0001)
            counter.add()

    threads = [threading.Thread(target=record) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    snap = histogram.snapshot()
    assert snap.cumulative == (40_000, 80_000, 80_000) and snap.count == 80_000
    assert counter.value == 80_000
    assert snap.sum == pytest.approx(40_000 * 0.005 + 40_000 * 0.0001)


def test_sampling_times_one_call_in_n_and_none_when_off() -> None:
    sampled = Histogram("v", (1.0,), every=VERIFY_SAMPLE_EVERY)
    assert sum(sampled.sampled() for _ in range(VERIFY_SAMPLE_EVERY * 10)) == 10
    off = Histogram("v", (1.0,), every=0)
    assert not any(off.sampled() for _ in range(100))
    with pytest.raises(ValueError):
        Histogram("v", (1.0,), every=3)


def test_metrics_are_guarded_like_the_core_api(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/guard.sqlite3"
    closed = Doorkeep(Settings(database_url=database))  # what `doorkeep serve` runs
    with serve_in_thread(create_app(closed, core_trusts_loopback=False)) as url:
        refused = httpx.get(f"{url}/metrics")
        assert refused.status_code == 401 and "DOORKEEP_CORE_API_KEYS" in refused.text
    keyed = Doorkeep(Settings(database_url=database, core_api_keys=(KEY,)))
    with serve_in_thread(create_app(keyed, core_trusts_loopback=False)) as url:
        assert httpx.get(f"{url}/metrics").status_code == 401
        wrong = httpx.get(f"{url}/metrics", headers={"authorization": "Bearer " + "x" * 30})
        assert wrong.status_code == 401
        scraped = httpx.get(f"{url}/metrics", headers={"authorization": f"Bearer {KEY}"})
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
    loopback = Doorkeep(Settings(database_url=database))  # a keyless core listener
    with serve_in_thread(create_app(loopback)) as url:
        assert httpx.get(f"{url}/metrics").status_code == 200
        proxied = httpx.get(f"{url}/metrics", headers={"x-forwarded-for": "203.0.113.9"})
        assert proxied.status_code == 401


def test_events_and_latencies_are_counted(tmp_path: Path) -> None:
    dk = Doorkeep(Settings(database_url=f"sqlite:///{tmp_path}/m.sqlite3"))
    with serve_in_thread(create_app(dk)) as url, httpx.Client(base_url=url) as client:
        headers = {"st-auth-mode": "header"}
        signed_up = client.post("/auth/signup", json=sign_up_body("m@example.com"), headers=headers)
        assert signed_up.json()["status"] == "OK"
        token = signed_up.headers["st-access-token"]
        wrong = sign_up_body("m@example.com", "not the password")
        assert client.post("/auth/signin", json=wrong).json()["status"] == "WRONG_CREDENTIALS_ERROR"
        ok = client.post("/auth/signin", json=sign_up_body("m@example.com"), headers=headers)
        assert ok.json()["status"] == "OK"
        before = samples(client.get("/metrics").text)
        for _ in range(VERIFY_SAMPLE_EVERY * 4):
            assert client.get(
                "/sessioninfo", headers={"authorization": f"Bearer {token}"}
            ).is_success
        after = samples(client.get("/metrics").text)

    def events(kind: str, outcome: str = "success") -> float:
        labels = (("kind", kind), ("outcome", outcome), ("tenant", "public"))
        return after.get(("doorkeep_events_total", labels), 0.0)

    assert events("user.created") == 1
    assert events("sign_in.failed", "failure") == 1
    assert events("sign_in.succeeded") == 1
    assert events("session.created") == 2
    assert after[("doorkeep_sign_in_seconds_count", ())] == 2  # the failure is timed too
    verify = "doorkeep_session_verify_seconds_count"
    assert after[(verify, ())] - before[(verify, ())] == 4  # one verification in 16
    assert after[("doorkeep_session_verify_seconds_bucket", (("le", "+Inf"),))] >= 4
    statements = "doorkeep_db_statements_total"
    assert after[(statements, ())] - before[(statements, ())] < VERIFY_SAMPLE_EVERY * 4 / 4
    assert after[("doorkeep_db_pool_max", ())] >= 1
    assert ("doorkeep_email_queue_depth", ()) in after
    assert after[("doorkeep_revocation_channel_up", ())] == 0  # SQLite: polling


def test_metrics_off_answer_404(tmp_path: Path) -> None:
    dk = Doorkeep(Settings(database_url=f"sqlite:///{tmp_path}/off.sqlite3", metrics_enabled=False))
    assert dk.metrics is None
    with serve_in_thread(create_app(dk)) as url:
        off = httpx.get(f"{url}/metrics")
        assert off.status_code == 404 and "doorkeep[metrics]" in off.text
