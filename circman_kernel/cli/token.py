"""``circman token create|rotate-secret``: API tokens and the secret that signs them (admin).

``token create --user NAME [--expires 8h]`` prints a bearer token for an existing user,
signed with the server's secret (``$CIRCMAN_AUTH_SECRET`` or the owner-only secret file):
whoever can read that secret administers the server. ``token rotate-secret`` writes a
new secret file: every session and token issued so far stops working at once.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    token = sub.add_parser("token", help="create API tokens; rotate the signing secret")
    tsub = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)

    create = tsub.add_parser("create", help="print a bearer token for a user")
    create.add_argument("--user", required=True, help="an existing user (circman users add)")
    create.add_argument(
        "--expires", default="8h", help="lifetime, e.g. 30m, 8h, 7d (default 8h, at most 366d)"
    )
    create.set_defaults(func=_create)

    rotate = tsub.add_parser("rotate-secret", help="replace the signing secret: signs everyone out")
    rotate.set_defaults(func=_rotate)


def _create(args: argparse.Namespace) -> int:
    from circman_kernel.cli.users import operator_name
    from circman_kernel.server.auth import Authenticator, SigningSecret, parse_duration
    from circman_kernel.store.run_store import RunStore

    store = RunStore(args.db)
    auth = Authenticator(store, SigningSecret())
    token, expires = auth.issue(args.user, expires_s=parse_duration(args.expires))
    store.record_audit(operator_name(), "token.create", args.user,
                       {"expires_at": expires.isoformat()})  # fmt: skip
    print(token)
    print(f"valid until {expires.isoformat()} for {args.user}", file=sys.stderr)
    return 0


def _rotate(args: argparse.Namespace) -> int:
    from circman_kernel.server.auth import rotate_secret

    path = rotate_secret()
    print(f"new signing secret in {path}; every session and token is now void", file=sys.stderr)
    return 0
