"""Team server API figures: latency under 20 concurrent clients, and the cost of a sign-in.

A real ``circman dashboard --auth --twin simulated:1`` server (no preheated kernels: the
API needs none) on the embedded DuckDB store, and 20 client threads, each with its own
keep-alive connection and bearer token, sending requests back to back. Every request is
verified in full (JWT signature, then the user's row, reused for ``user_cache_s`` = 2 s).
Reported per endpoint: median and P95 latency under 20 clients, against one client alone
(the reference). Sign-in: ``POST /api/v1/token`` against the argon2id check it contains,
measured in this process. Clients and server share the 2-core machine.
"""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

from benchmarks.harness import Figure, bench, median_time

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from team_server import ROLE_USERS, call, password, team_server

CLIENTS = 20
PER_CLIENT = 25


def _latencies(url: str, path: str, tokens: list[str], per_client: int) -> list[float]:
    """Run one thread per token, each sending ``per_client`` GETs; return every latency [s]."""
    host = urlparse(url)
    out: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(len(tokens))

    def client(token: str) -> None:
        con = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        headers = {"Authorization": f"Bearer {token}"}
        mine = []
        start.wait()
        for _ in range(per_client):
            t0 = time.perf_counter()
            con.request("GET", path, headers=headers)
            resp = con.getresponse()
            resp.read()
            mine.append(time.perf_counter() - t0)
            if resp.status != 200:
                raise RuntimeError(f"GET {path}: {resp.status}")
        con.close()
        with lock:
            out.extend(mine)

    threads = [threading.Thread(target=client, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def _endpoint_figures(name: str, url: str, path: str, tokens: list[str]) -> list[Figure]:
    _latencies(url, path, tokens[:1], 5)  # warm up: connection, caches
    alone = _latencies(url, path, tokens[:1], 50)
    many = _latencies(url, path, tokens, PER_CLIENT)
    ref = statistics.median(alone)
    return [
        Figure(f"GET {name}, {CLIENTS} clients: median", statistics.median(many),
               target=0.5, reference=ref, reference_name="one client, median",
               samples=tuple(many)),
        Figure(f"GET {name}, {CLIENTS} clients: P95", _p95(many), target=1.0,
               reference=_p95(alone), reference_name="one client, P95"),
        Figure(f"GET {name}, {CLIENTS} clients: throughput",
               len(many) / (sum(many) / CLIENTS), unit="req/s", higher_is_better=True),
    ]  # fmt: skip


def _uncached(tmp: str, tokens_of: int) -> list[Figure]:
    """``GET runs/{id}`` with the run cache off: every request reads the DuckDB file."""
    with team_server(
        Path(tmp) / "uncached", twin="simulated:1", twin_rate=4.0, limits={"run_cache_s": 0}
    ) as srv:
        status, _, body = call(srv.api + "simulations", "POST", token=srv.tokens["engineer"],
                               body={"steps": 24, "iterations": 50, "name": "bench"})  # fmt: skip
        assert status == 201, body
        roles = list(srv.tokens)
        tokens = [srv.tokens[roles[i % len(roles)]] for i in range(tokens_of)]
        return _endpoint_figures(
            "runs/{id} (no run cache)", srv.url, f"/api/v1/runs/{body['run_id']}", tokens
        )


@bench("api")
def api_latency_and_sign_in() -> list[Figure]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        team_server(Path(tmp), twin="simulated:1", twin_rate=4.0) as srv,
    ):
        eng = srv.tokens["engineer"]
        status, _, body = call(srv.api + "simulations", "POST", token=eng,
                               body={"steps": 24, "iterations": 50, "name": "bench"})  # fmt: skip
        assert status == 201, body
        run_id = body["run_id"]
        roles = list(srv.tokens)
        tokens = [srv.tokens[roles[i % len(roles)]] for i in range(CLIENTS)]
        figures = _endpoint_figures("runs/{id}", srv.url, f"/api/v1/runs/{run_id}", tokens)
        figures += _endpoint_figures("twin/state", srv.url, "/api/v1/twin/state", tokens)
        figures += _uncached(tmp, tokens_of=len(tokens))

        def sign_in() -> None:
            user = ROLE_USERS["viewer"]
            s, _, _ = call(srv.api + "token", "POST",
                           body={"username": user, "password": password("viewer")})  # fmt: skip
            assert s == 200

        signin, samples = median_time(sign_in, repeat=10, warmup=1)

    from circman_kernel.server.auth import hash_password, verify_password

    stored = hash_password("viewer-password")
    check, _ = median_time(lambda: verify_password(stored, "viewer-password"), repeat=10)
    figures.append(
        Figure("POST token (sign-in), one client", signin, target=1.0, reference=check,
               reference_name="argon2id verify in-process", samples=samples)
    )  # fmt: skip
    return figures


if __name__ == "__main__":  # pragma: no cover
    for f in api_latency_and_sign_in():
        print(json.dumps(f.to_dict(), default=str)[:200])
