"""Dashboard kernels forked from a warm process instead of started from scratch.

A cold dashboard kernel spends most of its CPU importing the same stack every other
kernel imports (numpy, pandas, plotly, ipywidgets, ipykernel, circman) and loading the
same figure template. Under ``circman dashboard`` a *fork server* does that once: a
process that has imported it all listens on a Unix socket in a private folder, and each
kernel launch forks it. The forked kernel shares the warm pages (copy on write) and is
ready in a fraction of the time and CPU.

The kernel manager still sees an ordinary process: the kernel spec runs
:mod:`circman_kernel.apps.kernel`, which (when :data:`FORKSERVER_ENV` names a socket)
asks the fork server for a kernel with its own argv, environment, folder and standard
streams, then stands in for it: it forwards the signals it gets (interrupt, terminate)
to the kernel and exits with the kernel's exit status. The kernel exits when its
stand-in is killed. When no fork server answers, or it refuses (it only forks while it
has a single thread), the stand-in starts the kernel itself as before.

Fork safety: the server forks only while single-threaded, before any ZeroMQ context,
event loop or kernel exists; the child closes every socket of the server, gets fresh
random state (``random``, numpy's global generator) and default signal handlers.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import selectors
import signal
import socket
import struct
import sys
import threading
import time
import traceback

from circman_kernel.core.processes import running

__all__ = ["FORKSERVER_ENV", "run_forked", "serve"]

FORKSERVER_ENV = "CIRCMAN_KERNEL_FORKSERVER"
_MAX_REQUEST = 1 << 20  # bytes of one request (argv, environment, folder)
_STATUS = struct.Struct("!i")  # a kernel's pid, then its exit status, as 4-byte integers
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


# ----------------------------------------------------------------------------- stand-in
def run_forked(path: str, argv: list[str]) -> int | None:
    """Ask the fork server at ``path`` for a kernel with ``argv``; wait for it to end.

    Returns the kernel's exit status (the shell's convention: 128 + signal number when
    a signal ended it), or ``None`` when no fork server answered or it refused, so the
    caller starts the kernel itself.
    """
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(5.0)
        sock.connect(path)
        request = json.dumps(
            {"argv": argv, "env": dict(os.environ), "cwd": os.getcwd(), "pid": os.getpid()}
        ).encode()
        socket.send_fds(sock, [_STATUS.pack(len(request)) + request], [0, 1, 2])
        pid = _read_int(sock)
    except OSError:
        return None
    if pid is None or pid <= 0:
        sock.close()
        return None

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    for sig in _FORWARDED:
        signal.signal(sig, forward)
    sock.settimeout(None)
    try:
        status = _read_int(sock)
    except OSError:
        status = None
    sock.close()
    if status is None:  # the fork server is gone: follow the kernel until it ends
        while running(pid):
            time.sleep(0.2)
        return 1
    return status


def _read_int(sock: socket.socket) -> int | None:
    data = b""
    while len(data) < _STATUS.size:
        chunk = sock.recv(_STATUS.size - len(data))
        if not chunk:
            return None
        data += chunk
    return _STATUS.unpack(data)[0]


# ----------------------------------------------------------------------------- server
def _warm() -> None:
    """Import the kernel's stack and every dashboard's module, and load the figure template."""
    import importlib

    from circman_kernel.apps import _BUILDERS
    from circman_kernel.apps._figures import warm_figures

    for module in ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipywidgets"):
        importlib.import_module(module)
    for module in sorted(set(_BUILDERS.values())):  # the apps pull in the rest of the stack
        importlib.import_module(f"circman_kernel.apps.{module}")
    warm_figures()


def _exit_status(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1


def serve(path: str, *, warm: bool = True) -> None:
    """Serve forks of this process as kernels on the Unix socket ``path`` until told to stop.

    Stops on SIGTERM/SIGINT, and when the process that started it exits. Kernels it
    forked keep running until their stand-ins end them.
    """
    if warm:
        _warm()
    parent = os.getppid()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(64)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    stop: list[int] = []
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes the loop through the pipe
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _f: stop.append(signum))
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, "accept")
    sel.register(wake_r, selectors.EVENT_READ, "wake")
    waiting: dict[int, socket.socket] = {}  # kernel pid -> its stand-in's connection
    owned = (listener, sel, wake_r, wake_w)
    try:
        while not stop and os.getppid() == parent:
            for key, _ in sel.select(timeout=1.0):
                if key.data == "wake":
                    with contextlib.suppress(BlockingIOError):
                        os.read(wake_r, 4096)
                elif key.data == "accept":
                    with contextlib.suppress(OSError):
                        conn, _addr = listener.accept()
                        _answer(conn, owned, waiting)
            _reap(waiting)
    finally:
        sel.close()
        listener.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        for conn in waiting.values():
            conn.close()


def _answer(conn: socket.socket, owned: tuple, waiting: dict[int, socket.socket]) -> None:
    """Read one request from a stand-in and fork its kernel (or refuse with pid 0)."""
    conn.settimeout(5.0)
    try:
        head, fds, _flags, _addr = socket.recv_fds(conn, _STATUS.size + _MAX_REQUEST, 3)
        size = _STATUS.unpack(head[: _STATUS.size])[0]
        body = head[_STATUS.size :]
        while len(body) < size <= _MAX_REQUEST:
            chunk = conn.recv(size - len(body))
            if not chunk:
                break
            body += chunk
        request = json.loads(body)
        argv = [str(a) for a in request["argv"]]
        env = {str(k): str(v) for k, v in request["env"].items()}
        cwd, stand_in = str(request["cwd"]), int(request["pid"])
    except (OSError, ValueError, KeyError, TypeError, struct.error):
        conn.close()
        return
    if len(fds) != 3 or threading.active_count() > 1:
        for fd in fds:
            os.close(fd)
        with contextlib.suppress(OSError):
            conn.sendall(_STATUS.pack(0))  # refused: the stand-in starts the kernel itself
        conn.close()
        return
    pid = os.fork()
    if pid == 0:  # the kernel: never returns into the server's loop
        code = 1
        try:
            _become_kernel(argv, env, cwd, stand_in, fds, [conn, *waiting.values()], owned)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        except BaseException:
            traceback.print_exc()
        finally:
            with contextlib.suppress(BaseException):
                atexit._run_exitfuncs()  # as an interpreter exit would
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)
    for fd in fds:
        os.close(fd)
    try:
        conn.sendall(_STATUS.pack(pid))
    except OSError:
        os.kill(pid, signal.SIGKILL)
        conn.close()
        return
    waiting[pid] = conn


def _reap(waiting: dict[int, socket.socket]) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = waiting.pop(pid, None)
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.sendall(_STATUS.pack(_exit_status(status)))
            conn.close()


def _become_kernel(
    argv: list[str],
    env: dict[str, str],
    cwd: str,
    stand_in: int,
    fds: list[int],
    conns: list[socket.socket],
    owned: tuple,
) -> None:
    listener, sel, wake_r, wake_w = owned
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sel.close()
    listener.close()
    os.close(wake_r)
    os.close(wake_w)
    for conn in conns:
        conn.close()
    os.setsid()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    import random

    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()
    threading.Thread(target=_follow, args=(stand_in,), daemon=True).start()
    # parent_handle 1 ("init"): no parent polling and no console banner; _follow ends the
    # kernel with its stand-in instead (the fork server is its parent, not the manager)
    argv = [*argv, "--IPKernelApp.parent_handle=1"]
    sys.argv = [sys.argv[0], *argv]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=argv)


def _follow(stand_in: int) -> None:
    """End this kernel when its stand-in is gone (killed: it cannot forward SIGKILL)."""
    while running(stand_in):
        time.sleep(0.5)
    os._exit(128 + signal.SIGKILL)
