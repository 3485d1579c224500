"""The team server's JSON API over real HTTP: every endpoint for every role, bad tokens, limits.

One ``circman dashboard --auth --twin csv:...`` server for the module (a real Voila server
with the API, no kernels needed), one user per role. Roles are checked both ways: each
role at or above an endpoint's minimum succeeds, each role below gets 403, and no token
gets 401.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.parse

import jwt
import pytest
from team_server import ROLE_USERS, breach_csv, call, password, sign_in, team_server

from circman_kernel.core.roles import ROLES
from circman_kernel.server.api import api_handlers
from circman_kernel.server.openapi import OPERATIONS

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("team-api")]

HOSTILE = 'Robert\'); DROP TABLE runs;-- <script>alert(1)</script> "q" \\ % _ ☃ \u202e end'


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("team-api")
    csv = breach_csv(tmp / "shift.csv")
    with team_server(tmp, twin=f"csv:{csv}", twin_rate=20.0) as srv:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the breach row is reading 6 of 40
            _, _, snap = call(srv.api + "twin/state", token=srv.tokens["viewer"])
            if snap["open_alerts"]:
                break
            time.sleep(0.2)
        yield srv


@pytest.fixture(scope="module")
def run_id(server) -> str:
    status, _, body = call(server.api + "simulations", "POST", token=server.tokens["engineer"],
                           body={"steps": 6, "seed": 3, "name": "fixture run"})  # fmt: skip
    assert status == 201, body
    return body["run_id"]


def _new_run(server) -> str:
    status, _, body = call(server.api + "simulations", "POST", token=server.tokens["admin"],
                           body={"steps": 2, "name": "to delete"})  # fmt: skip
    assert status == 201
    return body["run_id"]


def _alert_id(server) -> str:
    _, _, snap = call(server.api + "twin/state", token=server.tokens["viewer"])
    _, _, events = call(server.api + "twin/events?category=threshold&severity=warning",
                        token=server.tokens["viewer"])  # fmt: skip
    return events["events"][0]["id"] if events["events"] else snap["open_alerts"][0]["id"]


# endpoint -> (method, path template, body, lowest role, success status)
ENDPOINTS = {
    "me": ("GET", "me", None, "viewer", 200),
    "runs": ("GET", "runs?limit=5", None, "viewer", 200),
    "run": ("GET", "runs/{run}", None, "viewer", 200),
    "trajectories-json": ("GET", "runs/{run}/trajectories", None, "viewer", 200),
    "trajectories-csv": ("GET", "runs/{run}/trajectories?format=csv", None, "manager", 200),
    "trajectories-parquet": ("GET", "runs/{run}/trajectories?format=parquet", None, "manager",
                             200),
    "compare": ("GET", "runs/compare?run_id={run}&run_id={other}", None, "viewer", 200),
    "simulate": ("POST", "simulations", {"steps": 3, "seed": 1}, "engineer", 201),
    "delete": ("DELETE", "runs/{fresh}", None, "manager", 200),
    "twin-state": ("GET", "twin/state?history=5&paths=production_line.temperature", None,
                   "viewer", 200),
    "twin-events": ("GET", "twin/events?limit=5", None, "viewer", 200),
    "ack": ("POST", "twin/events/{event}/ack", None, "operator", 200),
    "input": ("POST", "twin/input", {"environment": {"humidity": 45.0}}, "operator", 200),
}  # fmt: skip


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_every_endpoint_by_role_and_without_token(server, run_id, endpoint) -> None:
    method, template, body, lowest, ok = ENDPOINTS[endpoint]
    other = _new_run(server)
    for role, level in [(None, 0), *ROLES.items()]:
        fresh = _new_run(server) if endpoint == "delete" else ""
        event = _alert_id(server) if endpoint == "ack" else ""
        path = template.format(run=run_id, other=other, fresh=fresh, event=event)
        token = server.tokens[role] if role else None
        status, _, answer = call(server.api + path, method, token=token, body=body)
        if role is None:
            assert status == 401 and "sign in" in answer["error"], (endpoint, answer)
        elif level >= ROLES[lowest]:
            assert status == ok, (endpoint, role, answer)
        else:
            assert status == 403, (endpoint, role, status)
            assert (
                f"need the {lowest} role" in answer["error"]
                and f"the {role} role" in answer["error"]
            )


def test_answers_carry_the_stored_values(server, run_id) -> None:
    t = server.tokens["viewer"]
    _, _, run = call(server.api + f"runs/{run_id}", token=t)
    assert (run["id"], run["kind"], run["name"], run["seed"]) == (run_id, "simulation",
                                                                    "fixture run", 3)  # fmt: skip
    assert run["kpis"]["output_modules"] > 0
    _, _, traj = call(server.api + f"runs/{run_id}/trajectories", token=t)
    assert traj["rows"] == len(traj["columns"]["value"]) > 0
    assert set(traj["columns"]["step"]) == set(range(7))  # 6 steps and the initial state
    _, head, csv = call(server.api + f"runs/{run_id}/trajectories?format=csv",
                        token=server.tokens["manager"])  # fmt: skip
    assert head["Content-Type"].startswith("text/csv")
    assert csv.decode().splitlines()[0] == "iteration,step,variable,value"
    assert len(csv.decode().splitlines()) == traj["rows"] + 1
    _, _, state = call(server.api + "twin/state?history=3&paths=production_line.temperature",
                       token=t)  # fmt: skip
    assert len(state["history"]["production_line.temperature"]) == 3
    assert state["status"]["source"].startswith("csv:")


def test_a_change_is_audited_with_the_callers_name(server) -> None:
    from circman_kernel.store.run_store import RunStore

    status, _, body = call(server.api + "simulations", "POST", token=server.tokens["engineer"],
                           body={"steps": 2, "name": "audited"})  # fmt: skip
    assert status == 201
    audit = RunStore(server.db).audit_log(action="run.save")
    row = audit[audit["target"] == body["run_id"]].iloc[0]
    assert row["user_name"] == ROLE_USERS["engineer"] and row["details"]["via"] == "api"


def test_hostile_run_name_round_trips_unchanged(server) -> None:
    t = server.tokens["engineer"]
    status, _, body = call(server.api + "simulations", "POST", token=t,
                           body={"steps": 2, "name": HOSTILE})  # fmt: skip
    assert status == 201, body
    _, _, run = call(server.api + f"runs/{body['run_id']}", token=t)
    assert run["name"] == HOSTILE
    query = urllib.parse.urlencode({"name": HOSTILE})
    _, _, found = call(server.api + f"runs?{query}", token=t)
    assert [r["id"] for r in found["runs"]] == [body["run_id"]]
    _, _, everything = call(server.api + "runs?limit=1000", token=t)
    assert len(everything["runs"]) > 1  # the name was a value, not SQL: nothing dropped


def _forged(payload: dict, key: str | None, alg: str = "HS256") -> str:
    if key is None:  # alg "none": header and payload only, empty signature
        enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
        return f"{enc({'alg': 'none', 'typ': 'JWT'})}.{enc(payload)}."
    return jwt.encode(payload, key, algorithm=alg)


def test_bad_tokens_are_401(server) -> None:
    key = server.secret.read_bytes().strip()
    now = int(time.time())
    good = {"iss": "circman", "sub": ROLE_USERS["viewer"], "role": "viewer", "iat": now,
            "exp": now + 600}  # fmt: skip
    assert call(server.api + "me", token=_forged(good, key))[0] == 200  # the forger is right
    expired = {**good, "iat": now - 7200, "exp": now - 60}
    cases = {
        "expired": _forged(expired, key),
        "other secret": _forged(good, "x" * 64),
        "alg none": _forged({**good, "role": "admin"}, None),
        "garbage": "not.a.token",
    }
    # the role raised by hand in the payload of a genuine token: the signature breaks
    head, _, sig = server.tokens["viewer"].split(".")
    body = json.loads(base64.urlsafe_b64decode(server.tokens["viewer"].split(".")[1] + "=="))
    raised = base64.urlsafe_b64encode(json.dumps({**body, "role": "admin"}).encode())
    cases["role raised"] = f"{head}.{raised.rstrip(b'=').decode()}.{sig}"
    for name, token in cases.items():
        status, _, answer = call(server.api + "me", token=token)
        assert status == 401, (name, answer)
        status, _, _ = call(server.api + "runs/x", "DELETE", token=token)
        assert status == 401, name
    assert call(server.api + "me", headers={"Authorization": "Basic dTpw"})[0] == 401


def test_token_of_a_removed_user_and_an_expired_cli_token_are_401(server) -> None:
    made = server.cli("users", "add", "temp-user", "--role", "manager", "--password-stdin",
                      stdin="temp-password\n")  # fmt: skip
    assert made.returncode == 0, made.stderr
    token = sign_in(server, "temp-user", "temp-password")
    short = server.cli("token", "create", "--user", "temp-user", "--expires", "1s")
    assert short.returncode == 0, short.stderr
    cli_token = short.stdout.strip()
    assert call(server.api + "me", token=token)[2]["role"] == "manager"
    assert server.cli("users", "remove", "temp-user").returncode == 0
    time.sleep(2.3)  # the server reuses a verified user for 2 s (limits.user_cache_s)
    for t in (token, cli_token):
        status, _, answer = call(server.api + "me", token=t)
        assert status == 401, answer
    # the same name added again does not revive tokens of the earlier account
    server.cli("users", "add", "temp-user", "--role", "viewer", "--password-stdin",
               stdin="temp-password\n")  # fmt: skip
    time.sleep(2.3)
    assert call(server.api + "me", token=token)[0] == 401


def test_brute_force_gets_429_even_with_the_right_password(server) -> None:
    user = ROLE_USERS["operator"]
    codes = [call(server.api + "token", "POST", body={"username": user, "password": "nope"})[0]
             for _ in range(5)]  # fmt: skip
    assert codes == [401] * 5
    status, head, answer = call(server.api + "token", "POST",
                                body={"username": user, "password": password("operator")})  # fmt: skip
    assert status == 429 and int(head["Retry-After"]) >= 1, answer
    # another user is not locked
    assert call(server.api + "token", "POST",
                body={"username": ROLE_USERS["viewer"], "password": password("viewer")})[0] == 200  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("runs?kind=nope", None, 422, "kind"),
        ("runs?limit=0", None, 422, "limit"),
        ("runs?offset=-1", None, 422, "offset"),
        ("runs/does-not-exist", None, 404, "run_id"),
        ("runs/compare?run_id=a", None, 422, "run_id"),
        ("twin/events?severity=loud", None, 422, "severity"),
        ("twin/events?since=yesterday", None, 422, "since"),
        ("twin/state?paths=production_line.status", None, 422, "paths"),
        ("simulations", {"steps": 10_001}, 422, "steps"),
        ("simulations", {"steps": 1001, "iterations": 2000}, 422, "iterations"),
        (
            "simulations",
            {"steps": 3, "parameters": {"warp_speed": 9}},
            422,
            "parameters.warp_speed",
        ),
        ("simulations", {"steps": "many"}, 422, "steps"),
        ("simulations", {"steps": 3, "extra": 1}, 422, "extra"),
        ("twin/events/nope/ack", None, 404, "event_id"),
        ("no/such/endpoint", None, 404, None),
    ],
)
def test_bad_requests_are_json_errors_naming_the_field(server, path, body, status, field) -> None:
    method = "POST" if body is not None or path.endswith("/ack") else "GET"
    code, head, answer = call(server.api + path, method, token=server.tokens["admin"], body=body)
    assert code == status, answer
    assert head["Content-Type"].startswith("application/json")
    assert answer["field"] == field and answer["error"]


def test_body_over_one_megabyte_is_413(server) -> None:
    raw = b'{"steps": 3, "name": "' + b"x" * (1_048_576 + 10) + b'"}'
    status, _, answer = call(server.api + "simulations", "POST", token=server.tokens["admin"],
                             raw=raw, headers={"Content-Type": "application/json"})  # fmt: skip
    assert status == 413 and "bytes" in answer["error"]
    bad = call(server.api + "simulations", "POST", token=server.tokens["admin"], raw=b"[1,",
               headers={"Content-Type": "application/json"})  # fmt: skip
    assert bad[0] == 422 and bad[2]["field"] == "body"


def test_openapi_describes_every_route_and_every_described_path_answers(server) -> None:
    status, _, doc = call(server.api + "openapi.json")  # no token needed
    assert status == 200 and doc["openapi"].startswith("3.1")
    described = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert described == {(m.upper(), p) for m, p, *_ in OPERATIONS}
    routes = {pattern.split("api/v1/", 1)[1] for pattern, *_ in api_handlers("/")} - {".*"}
    as_paths = {"/" + r.replace("([^/]+)", "{x}") for r in routes}
    assert as_paths == {"/" + p.strip("/").replace("{run_id}", "{x}").replace("{event_id}", "{x}")
                        for _, p, *_ in OPERATIONS}  # fmt: skip


def test_sign_in_page_sets_an_httponly_lax_cookie_and_pages_need_it(server) -> None:
    status, head, _ = call(server.app_url("simulation"))
    assert status == 302 and "/login" in head["Location"]
    form = urllib.parse.urlencode({"username": ROLE_USERS["viewer"], "password": "wrong",
                                   "next": "/voila/render/simulation.ipynb"}).encode()  # fmt: skip
    ctype = {"Content-Type": "application/x-www-form-urlencoded"}
    bad = call(server.url + "login", "POST", raw=form, headers=ctype)
    assert bad[0] == 401 and b"wrong user name or password" in bad[2]
    form = form.replace(b"wrong", password("viewer").encode())
    status, head, _ = call(server.url + "login", "POST", raw=form, headers=ctype)
    assert status == 302 and head["Location"] == "/voila/render/simulation.ipynb"
    cookie = head["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "expires=" in cookie.lower()
    session = cookie.split(";")[0]
    status, _, me = call(server.api + "me", headers={"Cookie": session})
    assert status == 200 and me["role"] == "viewer"
    # a change made with the cookie from another site is refused
    other = {"Cookie": session, "Origin": "http://evil.example"}
    assert call(server.api + "twin/input", "POST", body={}, headers=other)[0] == 403
    # an offsite "next" is not followed
    form2 = form.replace(b"%2Fvoila%2Frender%2Fsimulation.ipynb", b"https%3A%2F%2Fevil.example")
    assert call(server.url + "login", "POST", raw=form2, headers=ctype)[1]["Location"] == "/"


def test_rotating_the_secret_signs_everyone_out(server) -> None:
    # last in this module: every token above stops working
    assert call(server.api + "me", token=server.tokens["admin"])[0] == 200
    done = server.cli("token", "rotate-secret")
    assert done.returncode == 0, done.stderr
    for role in ROLES:
        assert call(server.api + "me", token=server.tokens[role])[0] == 401
    assert server.secret.stat().st_mode & 0o777 == 0o600
    fresh = sign_in(server, ROLE_USERS["viewer"], password("viewer"))
    assert call(server.api + "me", token=fresh)[0] == 200


def test_the_default_server_needs_no_sign_in_and_no_secret(tmp_path) -> None:
    import subprocess
    import sys

    from voila_server import _wait_http, free_port, server_env

    env = server_env(tmp_path)
    secret = tmp_path / "never" / "auth-secret"
    env["CIRCMAN_AUTH_SECRET_FILE"] = str(secret)
    port = free_port()
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "circman_kernel.cli", "dashboard", "--no-preheat", "--port",
             str(port)], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_http(url + "api/v1/openapi.json", proc, log, 90)
        assert call(url)[0] == 200  # the gallery, no redirect to a sign-in page
        status, _, me = call(url + "api/v1/me")
        assert status == 200 and me == {"name": "local", "role": "manager", "expires_at": None}
        assert call(url + "api/v1/token", "POST", body={"username": "a", "password": "b"})[0] == 404
        assert call(url + "api/v1/twin/state")[0] == 404  # no shared twin asked for
        assert not secret.exists()
    finally:
        proc.terminate()
        proc.wait(30)
