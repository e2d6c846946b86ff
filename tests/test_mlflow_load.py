"""Load: 8 concurrent clients send runs/log-batch for 30 s; afterwards every point is in the store.

The clients run on loopback against a real server; the count is taken from the store file itself
after the server has stopped, so nothing the server acknowledged can be missing.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import requests
from test_mlflow_server import start_server

from jupyter_mltrack.store.duckdb.store import DuckDBStore

CLIENTS = 8
DURATION_S = 30.0
POINTS_PER_BATCH = 1000


@pytest.mark.slow
def test_concurrent_log_batch_loses_nothing(tmp_path: Path) -> None:
    server = start_server(tmp_path / "store", tmp_path / "server")
    sent: dict[str, int] = {}
    failures: list[str] = []
    try:
        run_ids = []
        for i in range(CLIENTS):
            answer = server.api(
                "POST", "runs/create", json={"experiment_id": "0", "run_name": f"load-{i}"}
            )
            assert answer.status_code == 200, answer.text
            run_ids.append(answer.json()["run"]["info"]["run_id"])
        start = threading.Barrier(CLIENTS)
        deadline_box: list[float] = []

        def client(run_id: str) -> None:
            session = requests.Session()
            url = f"{server.url}/api/2.0/mlflow/runs/log-batch"
            step = 0
            start.wait()
            if not deadline_box:
                deadline_box.append(time.monotonic() + DURATION_S)
            try:
                while time.monotonic() < deadline_box[0]:
                    metrics = [
                        {"key": "m", "value": float(s), "timestamp": 1_700_000_000_000 + s,
                         "step": s}
                        for s in range(step, step + POINTS_PER_BATCH)
                    ]  # fmt: skip
                    answer = session.post(
                        url,
                        json={"run_id": run_id, "metrics": metrics},
                        headers=server.headers,
                        timeout=120,
                    )
                    if answer.status_code != 200:
                        failures.append(f"{answer.status_code}: {answer.text[:200]}")
                        return
                    step += POINTS_PER_BATCH
            finally:
                sent[run_id] = step
                session.close()

        threads = [threading.Thread(target=client, args=(r,)) for r in run_ids]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=DURATION_S + 300)
        assert not any(t.is_alive() for t in threads)
    finally:
        server.stop()
    assert failures == []
    assert server.server_errors() == []
    assert all(n > 0 for n in sent.values()), sent

    store = DuckDBStore(tmp_path / "store")
    try:
        for run_id, count in sent.items():
            history = store.get_metric_history(run_id, "m")
            assert len(history) == count, (run_id, len(history), count)
            # each point once, with its own step and value
            assert history.steps.tolist() == list(range(count))
            assert (history.values == history.steps).all()
            assert store.get_run(run_id).data.metrics == {"m": float(count - 1)}
    finally:
        store.close()
