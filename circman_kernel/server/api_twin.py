"""The shared live twin in the JSON API: state, events, acknowledgements, manual readings.

``GET twin/state`` also carries the newest open alerts, so a line monitor polling it once
a second shows what every other viewer sees; snapshots of an unchanged twin are computed
once (:meth:`~circman_kernel.server.twin_service.TwinService.snapshot`). Acknowledging an
alert and entering a reading need the operator role; both are audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from circman_kernel.core.state_schema import get_path
from circman_kernel.server.api_base import ApiError, ApiHandler, endpoint
from circman_kernel.server.twin_service import MAX_HISTORY
from circman_kernel.twin.event_types import EventCategory, EventSeverity

__all__ = ["twin_handlers"]

CATEGORIES = tuple(c.value for c in EventCategory)
SEVERITIES = tuple(s.value for s in EventSeverity)


class TwinHandler(ApiHandler):
    """Base of the twin endpoints: 404 when this server runs no shared twin."""

    def service(self) -> Any:
        twin = self.ctx.twin
        if twin is None:
            raise ApiError(404, "this server runs no shared twin; start it with --twin SOURCE")
        return twin


class TwinStateHandler(TwinHandler):
    """``GET twin/state?history=N&paths=a,b``: state, status, breaches, open alerts."""

    @endpoint
    async def get(self) -> None:
        await self.allowed("dashboard.open")
        twin = self.service()
        history = self.int_arg("history", 0, 0, MAX_HISTORY)
        raw = self.get_query_argument("paths", "") or ""
        paths = tuple(p for p in raw.split(",") if p)
        state = twin.twin.get_current_state()
        for path in paths:
            value = get_path(state, path)
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ApiError(422, f"paths: {path!r} is not a numeric field of the state", "paths")
        self.reply(twin.snapshot(history, paths))


class TwinEventsHandler(TwinHandler):
    """``GET twin/events?category=&severity=&since=&acknowledged=&limit=``: newest first."""

    @endpoint
    async def get(self) -> None:
        await self.allowed("dashboard.open")
        twin = self.service()
        since_raw = self.str_arg("since")
        since = None
        if since_raw is not None:
            try:
                since = datetime.fromisoformat(since_raw)
            except ValueError:
                raise ApiError(
                    422, f"since must be an ISO 8601 time, got {since_raw!r}", "since"
                ) from None
        ack = self.str_arg("acknowledged", ("true", "false"))
        events = twin.events(
            category=self.str_arg("category", CATEGORIES),
            severity=self.str_arg("severity", SEVERITIES),
            since=since,
            acknowledged=None if ack is None else ack == "true",
            limit=self.int_arg("limit", 100, 1, 1000),
        )
        self.reply({"events": events})


class TwinAckHandler(TwinHandler):
    """``POST twin/events/{id}/ack`` (operator and above): acknowledged for every viewer."""

    @endpoint
    async def post(self, event_id: str) -> None:
        who = await self.allowed("event.ack")
        twin = self.service()

        def ack() -> bool:
            found = twin.acknowledge(event_id)
            if found:
                self.ctx.store().record_audit(who.name, "event.ack", event_id, {"via": "api"})
            return found

        if not await self.run(ack):
            raise ApiError(404, f"the shared twin has no event {event_id!r}", "event_id")
        self.reply({"id": event_id, "acknowledged": True, "by": who.name})


class TwinInputHandler(TwinHandler):
    """``POST twin/input`` (operator and above): a manual reading (a partial state)."""

    @endpoint
    async def post(self) -> None:
        who = await self.allowed("twin.input")
        twin = self.service()
        reading = self.body()

        def apply() -> dict[str, Any]:
            state = twin.manual_reading(reading)
            self.ctx.store().record_audit(who.name, "twin.input", None, {"reading": reading})
            return state

        self.reply({"state": await self.run(apply)})


def twin_handlers(event_id: str) -> list[tuple[str, type]]:
    """Return the twin routes (relative to the API root; ``event_id`` is the id pattern)."""
    return [
        ("twin/state", TwinStateHandler),
        ("twin/events", TwinEventsHandler),
        (f"twin/events/{event_id}/ack", TwinAckHandler),
        ("twin/input", TwinInputHandler),
    ]
