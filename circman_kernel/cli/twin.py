"""``circman twin serve``: one shared live twin, fed in real time, served as a JSON API.

``--source csv:PATH`` replays a sensor CSV (``data/sample_shift.csv`` is a shift of the
sample line), ``--source simulated[:SEED]`` runs seeded simulated sensors; ``--rate`` sets
the readings per second. Events go to the run store as they come (in batches), the
states every ``--persist-every`` seconds as a ``replay`` run tagged ``live-twin``. The API
(``/api/v1/twin/...``) is on ``--host:--port``; with ``--auth`` it needs a token
(``circman token create``), and binding an address other than loopback requires it.
``circman dashboard --twin SOURCE`` runs the same twin inside the dashboard server.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    twin = sub.add_parser("twin", help="run the shared live twin as a service")
    tsub = twin.add_subparsers(dest="twin_command", metavar="ACTION", required=True)
    serve = tsub.add_parser("serve", help="feed one twin in real time and serve its API")
    serve.add_argument("--source", required=True, help="csv:PATH or simulated[:SEED]")
    serve.add_argument("--rate", type=float, help="readings per second (default: config)")
    serve.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8870, help="port (default 8870)")
    serve.add_argument("--auth", action="store_true", help="require bearer tokens")
    serve.add_argument(
        "--persist-every", type=float, default=60.0, help="store states every N s (default 60)"
    )
    serve.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from circman_kernel.core.config import load_config
    from circman_kernel.server.auth import Authenticator, SigningSecret, SignInLimiter
    from circman_kernel.server.context import ServerContext, check_bind, load_limits
    from circman_kernel.server.standalone import serve
    from circman_kernel.server.twin_service import TwinService
    from circman_kernel.store.run_store import RunStore

    check_bind(args.host, args.auth)
    config = load_config(args.config_dir)
    limits = load_limits(args.config_dir)
    store = RunStore(args.db)
    auth = None
    if args.auth:
        auth = Authenticator(store, SigningSecret(), user_cache_s=limits.user_cache_s,
                             limiter=SignInLimiter(limits.sign_in_failures,
                                                   limits.sign_in_window_s))  # fmt: skip
    twin = TwinService(
        args.source, config=config, store=store, rate_hz=args.rate,
        persist_every_s=args.persist_every,
    )  # fmt: skip
    ctx = ServerContext(store_url=args.db, auth=auth, twin=twin, limits=limits, config=config)
    url = f"http://{args.host}:{args.port}/api/v1/twin/state"
    serve(ctx, args.host, args.port, ready=lambda: print(f"serving {url}", file=sys.stderr))
    return 0
