"""The shared live twin as a dashboard kernel reaches it: the server's JSON API.

The server runs one twin for everyone (``circman dashboard --twin``) and tells its kernels
where its API is (``CIRCMAN_TWIN_API``). A line monitor polls ``twin/state`` about once a
second, so every viewer sees the same readings and alerts; acknowledgements and manual
readings are requests the *server* checks against the viewer's role, made with the token
the server gave this kernel for its viewer (never a credential from the page).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from circman_kernel.core.errors import DataSourceError, ParameterError, PermissionDeniedError

__all__ = ["TwinClient"]


class TwinClient:
    """Calls the shared twin's API on behalf of the kernel's viewer.

    Parameters
    ----------
    base_url : str
        The API root, e.g. ``http://127.0.0.1:8866/api/v1``.
    token : callable
        Returns the viewer's bearer token (``""`` on a server without sign-in).
    timeout_s : float
        Longest wait for one answer [s].
    """

    def __init__(self, base_url: str, token: Callable[[], str], timeout_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout_s = float(timeout_s)
        # the server is on this machine: never through a proxy from the environment
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def __repr__(self) -> str:
        return f"TwinClient({self.base_url!r})"

    def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        token = self._token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(
            f"{self.base_url}/{path}", data=data, headers=headers, method=method
        )
        try:
            with self._opener.open(req, timeout=self.timeout_s) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                answer = json.loads(exc.read() or b"{}")
            except ValueError:
                answer = {}
            message = answer.get("error") or f"HTTP {exc.code}"
            if exc.code in (401, 403):
                raise PermissionDeniedError(message) from None
            if exc.code in (404, 422):
                raise ParameterError(message, name=answer.get("field")) from None
            raise DataSourceError(f"the shared twin answered {exc.code}: {message}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise DataSourceError(
                f"cannot reach the shared twin at {self.base_url}: {exc}"
            ) from None

    def snapshot(self, history: int, paths: tuple[str, ...]) -> dict[str, Any]:
        """Return the current state, status, breaches, open alerts and the last states."""
        query = urllib.parse.urlencode({"history": history, "paths": ",".join(paths)})
        return self._call("GET", f"twin/state?{query}")

    def acknowledge(self, event_id: str) -> dict[str, Any]:
        """Acknowledge an alert for every viewer (the server needs the operator role)."""
        return self._call("POST", f"twin/events/{urllib.parse.quote(event_id, safe='')}/ack")

    def manual_reading(self, reading: dict[str, Any]) -> dict[str, Any]:
        """Enter a manual reading into the shared twin (operator role)."""
        return self._call("POST", "twin/input", reading)
