"""What a save that hits a full disk must leave: a ``StoreError`` naming the disk, and a store
that holds every run but the failed one and still takes new ones.

The scripts of the full-disk tests lower ``RLIMIT_FSIZE`` (as ``ulimit -f`` does) around
the failing write, print ``type|message`` of the error, then store a run ``after`` and
print the sorted run ids.
"""

from __future__ import annotations

import subprocess


def assert_full_disk_reported(out: subprocess.CompletedProcess[str]) -> None:
    """Check a full-disk script's output: the disk named first, only ``before``/``after`` kept."""
    assert out.returncode == 0, out.stderr
    error, runs = out.stdout.strip().splitlines()
    kind, message = error.split("|", 1)
    assert kind == "StoreError"
    assert message.startswith("disk full or file size limit reached while writing")
    assert "File too large" in message and "transaction is aborted" not in message
    assert runs == "['after', 'before']"  # nothing of the failed write; the store still works
