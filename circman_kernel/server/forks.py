"""The dashboards' fork server as a child of the Voila server (see :mod:`~circman_kernel.apps.forkserver`).

:class:`ForkServer` starts ``python -m circman_kernel.apps.kernel --fork-server SOCKET``
with the socket in a folder only this user may enter, and names the socket in
:data:`~circman_kernel.apps.forkserver.FORKSERVER_ENV` for the kernels Voila starts.
Nothing waits for it: a kernel started before it listens (or after it failed) starts
the usual way. It stops with the server, and on its own when the server is gone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from circman_kernel.apps.forkserver import FORKSERVER_ENV

__all__ = ["ForkServer"]


class ForkServer:
    """A running fork server; :meth:`close` stops it and removes its folder."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="circman-forks-"))  # mode 0700
        self.socket = self.folder / "kernels.sock"
        env = {k: v for k, v in os.environ.items() if k != FORKSERVER_ENV}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "circman_kernel.apps.kernel", "--fork-server", str(self.socket)],
            env=env,
            stdin=subprocess.DEVNULL,
        )
        os.environ[FORKSERVER_ENV] = str(self.socket)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the fork server (kernels it forked keep running until their manager ends them)."""
        if os.environ.get(FORKSERVER_ENV) == str(self.socket):
            del os.environ[FORKSERVER_ENV]
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout_s)
        with contextlib.suppress(OSError):
            shutil.rmtree(self.folder)
