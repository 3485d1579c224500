"""Whether a process runs: one answer for the store, the fork server and the dashboard server."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["running"]

_PROC = Path("/proc/self/stat").exists()  # Linux: a process's state is readable by anyone


def running(pid: int) -> bool:
    """Whether process ``pid`` runs.

    One that has exited but is not reaped yet (a zombie) has ended. Read from
    ``/proc/<pid>/stat`` on Linux; elsewhere signal 0 tells (a zombie then counts as
    running).
    """
    if not _PROC:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's process
            return True
        return True
    try:
        # "pid (comm) state ...": comm may hold spaces and brackets
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")
