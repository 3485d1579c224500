"""The JSON API under ``/api/v1/``: sign-in, runs, simulations (the twin is in ``api_twin``).

Every value a client sends reaches the store as a bound parameter through the store's
own methods (``runs``, ``get_run``, ``kpis``, ``delete_runs``, ...), never inside SQL
text. Run ids, names and kinds are matched exactly. Writes need their role
(:mod:`circman_kernel.core.roles`) and leave an audit record with the caller's name.
:func:`api_handlers` lists the routes for a tornado application at any base URL.
"""

from __future__ import annotations

import math
from typing import Any

from circman_kernel.core.errors import ParameterError, StoreError
from circman_kernel.server.api_base import ApiError, ApiHandler, NotFoundHandler, endpoint
from circman_kernel.store.schema import KINDS

__all__ = ["api_handlers"]

PREFIX = "api/v1/"


def _not_found(exc: StoreError, run_id: str) -> Exception:
    """Return the 404 for a store's "no run" error; any other store error as it is."""
    if "no run with id" in str(exc):
        return ApiError(404, f"no run with id {run_id!r}", "run_id")
    return exc


class TokenHandler(ApiHandler):
    """``POST token``: name and password in, a bearer token out."""

    @endpoint
    async def post(self) -> None:
        auth = self.ctx.auth
        if auth is None:
            raise ApiError(404, "sign-in is off on this server (start it with --auth)")
        data = self.body()
        for key in ("username", "password"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise ApiError(422, f"{key} is required (a non-empty string)", key)
        who, token, expires = await self.run(auth.sign_in, data["username"], data["password"])
        await self.run(self.ctx.store().record_audit, who.name, "token.create", who.name, None)
        self.reply({"token": token, "expires_at": expires.isoformat(), "role": who.role})


class MeHandler(ApiHandler):
    """``GET me``: who the token or cookie proves the caller is."""

    @endpoint
    async def get(self) -> None:
        who = await self.identity()
        expires = who.expires_at.isoformat() if who.expires_at else None
        self.reply({"name": who.name, "role": who.role, "expires_at": expires})


class RunsHandler(ApiHandler):
    """``GET runs?kind=&name=&limit=&offset=``: stored runs, newest first."""

    @endpoint
    async def get(self) -> None:
        await self.allowed("runs.read")
        lim = self.ctx.limits
        kind = self.str_arg("kind", KINDS)
        name = self.str_arg("name")
        limit = self.int_arg("limit", 100, 1, lim.max_page)
        offset = self.int_arg("offset", 0, 0, lim.max_offset)

        def listing() -> list[dict[str, Any]]:
            df = self.ctx.store().runs(kind, name=name, limit=offset + limit)
            return df.iloc[offset:].to_dict("records")

        rows = await self.run(listing)
        self.reply({"runs": rows, "limit": limit, "offset": offset})


class RunHandler(ApiHandler):
    """``GET runs/{id}`` (metadata and KPIs) and ``DELETE runs/{id}`` (manager and above)."""

    @endpoint
    async def get(self, run_id: str) -> None:
        await self.allowed("runs.read")
        try:
            row = await self.run(self.ctx.get_run, run_id)
        except StoreError as exc:
            raise _not_found(exc, run_id) from None
        self.reply(row)

    @endpoint
    async def delete(self, run_id: str) -> None:
        who = await self.allowed("run.delete")

        def delete() -> int:
            store = self.ctx.store()
            n = store.delete_runs([run_id])
            self.ctx.forget_run(run_id)
            if n:
                store.record_audit(who.name, "run.delete", run_id, {"via": "api"})
            return n

        if await self.run(delete) == 0:
            raise ApiError(404, f"no run with id {run_id!r}", "run_id")
        self.reply({"deleted": run_id})


class TrajectoriesHandler(ApiHandler):
    """``GET runs/{id}/trajectories?format=json|csv|parquet``."""

    @endpoint
    async def get(self, run_id: str) -> None:
        fmt = self.str_arg("format", ("json", "csv", "parquet")) or "json"
        await self.allowed("runs.read" if fmt == "json" else "data.export")
        try:
            df = await self.run(self.ctx.store().trajectories, run_id)
        except StoreError as exc:
            raise _not_found(exc, run_id) from None
        if fmt == "json":
            if len(df) > self.ctx.limits.max_json_rows:
                raise ApiError(
                    422,
                    f"{len(df)} rows are too many for JSON (at most "
                    f"{self.ctx.limits.max_json_rows}); ask for format=parquet or csv",
                    "format",
                )
            cols = {c: df[c].astype(object if c == "variable" else df[c].dtype).tolist()
                    for c in df.columns}  # fmt: skip
            self.reply({"run_id": run_id, "rows": len(df), "columns": cols})
            return
        if fmt == "csv":
            data = await self.run(lambda: df.to_csv(index=False).encode("utf-8"))
            self.set_header("Content-Type", "text/csv; charset=utf-8")
        else:
            from circman_kernel.apps.run_explorer import parquet_bytes

            data = await self.run(parquet_bytes, df)
            self.set_header("Content-Type", "application/vnd.apache.parquet")
        name = "".join(c for c in run_id if c.isalnum())[:40] or "run"
        self.set_header("Content-Disposition", f'attachment; filename="{name}.{fmt}"')
        self.finish(data)


class CompareHandler(ApiHandler):
    """``GET runs/compare?run_id=a&run_id=b``: KPIs of two or more runs side by side."""

    @endpoint
    async def get(self) -> None:
        await self.allowed("runs.read")
        ids = list(dict.fromkeys(self.get_query_arguments("run_id")))
        if not 2 <= len(ids) <= self.ctx.limits.max_compare:
            raise ApiError(
                422, f"give 2 to {self.ctx.limits.max_compare} distinct run_id values", "run_id"
            )
        try:
            wide = await self.run(self.ctx.store().kpis, ids)
        except StoreError as exc:
            if "no run with id" in str(exc):
                raise ApiError(404, str(exc).split(" in ")[0], "run_id") from None
            raise
        kpis = {k: {r: wide.loc[r, k] for r in ids} for k in wide.columns}
        self.reply({"run_ids": ids, "kpis": kpis})


def _number(data: dict[str, Any], key: str, default: Any, lo: float, hi: float) -> Any:
    value = data.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ApiError(422, f"{key} must be a finite number", key)
    if not lo <= value <= hi:
        raise ApiError(422, f"{key} must be between {lo:g} and {hi:g}, got {value!r}", key)
    if isinstance(default, int) and not isinstance(value, int):
        raise ApiError(422, f"{key} must be a whole number", key)
    return value


class SimulationsHandler(ApiHandler):
    """``POST simulations`` (engineer and above): run and store a simulation."""

    @endpoint
    async def post(self) -> None:
        who = await self.allowed("simulation.store")
        data = self.body()
        lim = self.ctx.limits
        unknown = sorted(set(data) - {"steps", "iterations", "parameters", "seed",
                                      "uncertainty", "name"})  # fmt: skip
        if unknown:
            raise ApiError(422, f"unknown field {unknown[0]!r}", unknown[0])
        steps = _number(data, "steps", 24, 1, lim.max_steps)
        iterations = _number(data, "iterations", 1, 1, lim.max_iterations)
        if steps * iterations > lim.max_cells:
            raise ApiError(
                422, f"steps x iterations must be at most {lim.max_cells:,}", "iterations"
            )
        seed = _number(data, "seed", 0, 0, 2**63 - 1)
        uncertainty = _number(data, "uncertainty", 0.1, 0.0, 1.0)
        params = data.get("parameters", {})
        if not isinstance(params, dict):
            raise ApiError(422, "parameters must be an object of name -> number", "parameters")
        name = data.get("name")
        if name is not None and (not isinstance(name, str) or len(name) > 200):
            raise ApiError(422, "name must be a string of at most 200 characters", "name")

        def simulate() -> str:
            from circman_kernel.simulation.engine import SimulationEngine

            store = self.ctx.store()
            engine = SimulationEngine(self.ctx.config, store=store)
            with self.ctx.simulations:
                if iterations == 1:
                    res = engine.run_simulation(steps, parameters=params, seed=seed, name=name,
                                                tags=("api",))  # fmt: skip
                else:
                    res = engine.run_monte_carlo_simulation(
                        steps, parameters=params, iterations=iterations,
                        uncertainty=uncertainty, seed=seed, name=name, tags=("api",),
                    )  # fmt: skip
            store.record_audit(who.name, "run.save", res.run_id, {"via": "api", "name": name})
            return res.run_id

        try:
            run_id = await self.run(simulate)
        except ParameterError as exc:
            field = f"parameters.{exc.name}" if exc.name and exc.name in params else exc.name
            raise ApiError(422, str(exc), field or "parameters") from None
        self.reply({"run_id": run_id}, status=201)


class OpenApiHandler(ApiHandler):
    """``GET openapi.json``: this API described as OpenAPI 3.1 (no sign-in needed)."""

    @endpoint
    async def get(self) -> None:
        from circman_kernel.server.openapi import openapi_document

        base = self.request.path.rsplit("openapi.json", 1)[0]
        self.reply(openapi_document(base, self.ctx.limits))


def api_handlers(base_url: str = "/") -> list[tuple[str, type, dict[str, Any]] | tuple]:
    """Return the API's tornado routes under ``base_url`` (most specific first)."""
    from circman_kernel.server.api_twin import twin_handlers

    root = base_url.rstrip("/") + "/" + PREFIX
    rid = r"([^/]+)"
    routes: list[tuple[str, type]] = [
        ("token", TokenHandler),
        ("me", MeHandler),
        ("openapi.json", OpenApiHandler),
        ("runs", RunsHandler),
        ("runs/compare", CompareHandler),
        (f"runs/{rid}/trajectories", TrajectoriesHandler),
        (f"runs/{rid}", RunHandler),
        ("simulations", SimulationsHandler),
        *twin_handlers(rid),
        (".*", NotFoundHandler),
    ]
    return [(root + path, cls) for path, cls in routes]
