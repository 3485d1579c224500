"""``circman users add|list|set-role|set-password|remove``: who may sign in to the team server.

Users live in the run store (``--db`` / ``$CIRCMAN_DB``; a team store on PostgreSQL shares
them between servers). Passwords are read from a prompt (twice) or, for scripts, from the
first line of stdin with ``--password-stdin``; only their argon2id hash is stored. Every
change is written to the store's audit log as ``cli:<login name>``.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from circman_kernel.core.errors import ParameterError, StoreError
from circman_kernel.core.roles import ROLES, check_role


def register(sub: argparse._SubParsersAction) -> None:
    users = sub.add_parser("users", help="add, list, change and remove users of the team server")
    usub = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)

    add = usub.add_parser("add", help="add a user with a role and a password")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=list(ROLES), help="role (manual 12.2)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(func=_add)

    ls = usub.add_parser("list", help="list users and their roles (never the hashes)")
    ls.set_defaults(func=_list)

    role = usub.add_parser("set-role", help="change a user's role")
    role.add_argument("name")
    role.add_argument("role", choices=list(ROLES))
    role.set_defaults(func=_set_role)

    pw = usub.add_parser("set-password", help="replace a user's password")
    pw.add_argument("name")
    pw.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    pw.set_defaults(func=_set_password)

    rm = usub.add_parser("remove", help="remove a user (their sessions stop working)")
    rm.add_argument("name")
    rm.set_defaults(func=_remove)


def operator_name() -> str:
    """Return the audit name of whoever runs the command (``cli:<login name>``)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _store(args: argparse.Namespace) -> Any:
    from circman_kernel.store.run_store import RunStore

    return RunStore(args.db)


def read_password(from_stdin: bool) -> str:
    """Return a new password from stdin's first line or a prompt asked twice."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise ParameterError("the passwords differ; nothing changed", name="password")
    return password


def _hash(args: argparse.Namespace) -> str:
    from circman_kernel.server.auth import hash_password

    return hash_password(read_password(args.password_stdin))


def _add(args: argparse.Namespace) -> int:
    check_role(args.role)
    store = _store(args)
    store.add_user(args.name, args.role, _hash(args))
    store.record_audit(operator_name(), "user.add", args.name, {"role": args.role})
    print(f"added {args.name} ({args.role})")
    return 0


def _list(args: argparse.Namespace) -> int:
    df = _store(args).list_users()
    if df.empty:
        print("no users; add one with: circman users add NAME --role admin")
        return 0
    print(df.to_string(index=False))
    return 0


def _set_role(args: argparse.Namespace) -> int:
    store = _store(args)
    before = store.get_user(args.name)
    store.set_user_role(args.name, check_role(args.role))
    store.record_audit(operator_name(), "user.role", args.name,
                       {"from": before["role"] if before else None, "to": args.role})  # fmt: skip
    print(f"{args.name} is now {args.role}")
    return 0


def _set_password(args: argparse.Namespace) -> int:
    store = _store(args)
    if store.get_user(args.name) is None:
        raise StoreError(f"no user {args.name!r} in {store.path}")
    store.set_user_password(args.name, _hash(args))
    store.record_audit(operator_name(), "user.password", args.name, None)
    print(f"password of {args.name} changed")
    return 0


def _remove(args: argparse.Namespace) -> int:
    store = _store(args)
    if not store.remove_user(args.name):
        raise StoreError(f"no user {args.name!r} in {store.path}")
    store.record_audit(operator_name(), "user.remove", args.name, None)
    print(f"removed {args.name}")
    return 0
