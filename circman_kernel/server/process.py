"""Running the dashboard server as a child that stops with its parent, kernels included.

``circman dashboard`` starts Voila in a process group of its own and waits. SIGTERM,
SIGINT or SIGHUP to ``circman`` is forwarded to Voila as SIGTERM (Voila then shuts its
kernels down); whatever of Voila, its group or its descendants (the kernels run in
sessions of their own) still runs after ``grace_s`` [s] is killed, so that everything
is gone within ``grace_s`` + 1 s of the signal.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from circman_kernel.core.processes import running

__all__ = ["descendants", "run_until_signalled"]

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def descendants(pid: int) -> set[int]:
    """Return the ids of every process below ``pid`` (children, grandchildren, ...).

    Read from ``/proc`` (Linux); an empty set where it is missing.
    """
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # "pid (comm) state ppid ...": comm may hold spaces and brackets
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _kill(pids: set[int], pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def run_until_signalled(
    argv: Sequence[str], env: Mapping[str, str], *, grace_s: float = 8.0
) -> int:
    """Run ``argv`` in a new process group until it exits or this process is signalled.

    Returns the child's exit status, or 128 + the signal number when stopped by a
    signal (the shell's convention), 0 for SIGINT (Ctrl+C is the normal way to stop).
    """
    proc = subprocess.Popen(list(argv), env=dict(env), start_new_session=True)
    received: list[int] = []
    seen: set[int] = set()

    def on_signal(signum: int, _frame: object) -> None:
        if not received:
            seen.update(descendants(proc.pid))  # the kernels, before Voila can lose them
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        received.append(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    try:
        deadline = None
        while True:
            if received and deadline is None:
                deadline = time.monotonic() + grace_s
            try:
                status = proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if deadline is not None and time.monotonic() > deadline:
                    _kill(seen | descendants(proc.pid), proc.pid)
            if received:
                seen.update(descendants(proc.pid))
        # Voila is gone; kernels it did not stop (or started while stopping) go now
        left = {pid for pid in seen if running(pid)}
        if left:
            for pid in left:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGTERM)
            end = time.monotonic() + 1.0
            while time.monotonic() < end and any(running(p) for p in left):
                time.sleep(0.05)
            _kill({p for p in left if running(p)}, proc.pid)
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # anything left in Voila's group
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        return 0 if received[0] == signal.SIGINT else 128 + received[0]
    return status
