"""Failed writes named by their root cause: a full disk first, not its aftermath.

DuckDB reports a write that hit a full disk (or the process's file-size limit,
``ulimit -f``) as an I/O error, and every later statement of that transaction as
"Current transaction is aborted"; the first is what the user must fix. ``write_error``
walks the exception chain and leads with it.
"""

from __future__ import annotations

import errno

from circman_kernel.core.errors import StoreError

__all__ = ["write_error"]

#: text of OS errors that mean the disk (or the process's file-size limit) is full
_FULL = ("file too large", "no space left", "disk quota exceeded", "disk is full")
_FULL_ERRNOS = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


def _root_cause(exc: BaseException) -> BaseException:
    """The error of the chain about a full disk, else the first that is not an aftermath."""
    chain, seen = [], set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        chain.append(node)
        node = node.__cause__ or node.__context__
    for e in chain:
        if isinstance(e, OSError) and e.errno in _FULL_ERRNOS:
            return e
        if any(word in str(e).lower() for word in _FULL):
            return e
    for e in chain:
        if "transaction is aborted" not in str(e).lower():
            return e
    return chain[0]


def write_error(path: str, exc: BaseException) -> StoreError:
    """A :class:`StoreError` for a failed write that names the root cause first."""
    root = _root_cause(exc)
    text = str(root).strip().splitlines()[0] if str(root).strip() else type(root).__name__
    if any(word in text.lower() for word in _FULL) or (
        isinstance(root, OSError) and root.errno in _FULL_ERRNOS
    ):
        return StoreError(
            f"disk full or file size limit reached while writing {path} ({text}); nothing "
            "was stored: free disk space (or raise the limit, `ulimit -f`) and save again"
        )
    return StoreError(f"{path}: write failed and was rolled back: {text}")
