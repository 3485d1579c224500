"""``GET /api/v1/openapi.json``: the API described as an OpenAPI 3.1 document.

Built from one table of operations so that the description and the routes in
:mod:`circman_kernel.server.api` are read side by side; a test checks that every route
is described and every described path answers.
"""

from __future__ import annotations

from typing import Any

from circman_kernel.core.version import __version__
from circman_kernel.server.context import ServerLimits
from circman_kernel.store.schema import KINDS

__all__ = ["OPERATIONS", "openapi_document"]

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "field": {"type": ["string", "null"]}},
}


def _q(name: str, schema: dict[str, Any], text: str, *, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema,
            "description": text}  # fmt: skip


def _p(name: str, text: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"},
            "description": text}  # fmt: skip


# (method, path, summary, minimum role or None for public, parameters, body schema, codes)
OPERATIONS: tuple[tuple[str, str, str, str | None, list, dict | None, tuple[int, ...]], ...] = (
    ("post", "/token", "Sign in: a bearer token for a user name and password", None, [],
     {"type": "object", "required": ["username", "password"],
      "properties": {"username": {"type": "string"}, "password": {"type": "string"}}},
     (200, 401, 404, 422, 429)),
    ("get", "/me", "Who the token or session cookie proves the caller is", "viewer", [], None,
     (200, 401)),
    ("get", "/openapi.json", "This document", None, [], None, (200,)),
    ("get", "/runs", "Stored runs, newest first", "viewer",
     [_q("kind", {"type": "string", "enum": list(KINDS)}, "run kind"),
      _q("name", {"type": "string"}, "exact run name"),
      _q("limit", {"type": "integer", "minimum": 1}, "runs per page (default 100)"),
      _q("offset", {"type": "integer", "minimum": 0}, "runs to skip")], None,
     (200, 401, 403, 422)),
    ("get", "/runs/compare", "KPIs of two or more runs side by side", "viewer",
     [_q("run_id", {"type": "array", "items": {"type": "string"}}, "repeat for each run",
         required=True)], None, (200, 401, 403, 404, 422)),
    ("get", "/runs/{run_id}", "A run's metadata and KPIs", "viewer", [_p("run_id", "run id")],
     None, (200, 401, 403, 404)),
    ("delete", "/runs/{run_id}", "Delete a run (manager and above)", "manager",
     [_p("run_id", "run id")], None, (200, 401, 403, 404)),
    ("get", "/runs/{run_id}/trajectories",
     "A run's trajectories (JSON for viewers; CSV and Parquet are exports: manager)", "viewer",
     [_p("run_id", "run id"),
      _q("format", {"type": "string", "enum": ["json", "csv", "parquet"]}, "default json")],
     None, (200, 401, 403, 404, 422)),
    ("post", "/simulations", "Run a simulation or Monte Carlo and store it (engineer+)",
     "engineer", [],
     {"type": "object", "additionalProperties": False,
      "properties": {"steps": {"type": "integer", "minimum": 1},
                     "iterations": {"type": "integer", "minimum": 1},
                     "parameters": {"type": "object",
                                    "additionalProperties": {"type": "number"}},
                     "seed": {"type": "integer", "minimum": 0},
                     "uncertainty": {"type": "number", "minimum": 0, "maximum": 1},
                     "name": {"type": "string", "maxLength": 200}}},
     (201, 401, 403, 413, 422)),
    ("get", "/twin/state", "The shared twin: state, status, breaches, open alerts", "viewer",
     [_q("history", {"type": "integer", "minimum": 0}, "last N states of `paths`"),
      _q("paths", {"type": "string"}, "comma-separated numeric state paths")], None,
     (200, 401, 403, 404, 422)),
    ("get", "/twin/events", "The shared twin's events, newest first", "viewer",
     [_q("category", {"type": "string"}, "event category"),
      _q("severity", {"type": "string"}, "minimum severity"),
      _q("since", {"type": "string", "format": "date-time"}, "only events after this time"),
      _q("acknowledged", {"type": "boolean"}, "filter by acknowledgement"),
      _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "default 100")], None,
     (200, 401, 403, 404, 422)),
    ("post", "/twin/events/{event_id}/ack", "Acknowledge an alert for every viewer (operator+)",
     "operator", [_p("event_id", "event id")], None, (200, 401, 403, 404)),
    ("post", "/twin/input", "Enter a manual reading (a partial state) into the twin (operator+)",
     "operator", [], {"type": "object", "description": "partial twin state"},
     (200, 401, 403, 404, 413, 422)),
)  # fmt: skip

_REASONS = {
    200: "OK",
    201: "Created",
    401: "No, expired or invalid token or session",
    403: "The caller's role is too low",
    404: "Not found",
    413: "Request body over the limit",
    422: "A bad value; `field` names it",
    429: "Too many failed sign-ins for this user; see Retry-After",
}


def openapi_document(base_path: str, limits: ServerLimits) -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of the API mounted at ``base_path`` (``.../api/v1/``)."""
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, role, params, body, codes in OPERATIONS:
        op: dict[str, Any] = {
            "summary": summary,
            "parameters": params,
            "responses": {
                str(code): {
                    "description": _REASONS[code],
                    **(
                        {"content": {"application/json": {"schema": _ERROR}}} if code >= 400 else {}
                    ),
                }
                for code in codes
            },
        }
        if role is not None:
            op["security"] = [{"bearer": []}, {"cookie": []}]
            op["x-minimum-role"] = role
        else:
            op["security"] = []
        if body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": body}},
            }
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "circman team server API",
            "version": __version__,
            "description": (
                "Runs, simulations and the shared live twin. Roles: viewer < operator < "
                f"engineer < manager < admin. Bodies up to {limits.max_body_bytes} bytes; "
                f"simulations up to {limits.max_steps} steps, {limits.max_iterations} "
                f"iterations and {limits.max_cells} steps x iterations."
            ),
        },
        "servers": [{"url": base_path.rstrip("/")}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "circman_session"},
            }
        },
        "paths": paths,
    }
