"""The configuration each stored run used, and re-running a stored run from what was kept.

Every run is saved with the hash of its configuration (``runs.config_hash``). When the
configuration was hashed in this process (:mod:`circman_kernel.core.config_snapshots`),
:meth:`StoreConfigs._keep_config` also writes its contents to the ``configs`` table in the
run's own transaction (once per hash), so the run can be re-run after ``configs/`` changed.

Re-running needs the simulation, the optimiser and the LCA, which sit above the store;
they register one re-runner per run kind in :mod:`circman_kernel.core.reruns`, and
:meth:`StoreConfigs.rerun` dispatches to them. What a re-run reports is a
:class:`RerunReport`: identical, or the first difference (variable, step, both values).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from circman_kernel.core import config_snapshots, reruns
from circman_kernel.core.config import CircmanConfig, load_config
from circman_kernel.core.errors import StoreError
from circman_kernel.core.version import __version__
from circman_kernel.store.frames import utcnow

__all__ = [
    "Difference",
    "RerunReport",
    "StoreConfigs",
    "first_difference",
    "first_trajectory_difference",
]


@dataclass(frozen=True)
class Difference:
    """Where a re-run first departs from the stored run."""

    variable: str
    stored: Any
    rerun: Any
    step: int | None = None
    iteration: int | None = None

    def __str__(self) -> str:
        where = self.variable
        if self.step is not None:
            where += f" at step {self.step}"
        if self.iteration is not None:
            where += f" of iteration {self.iteration}"
        return f"{where}: stored {self.stored!r}, re-run {self.rerun!r}"


@dataclass(frozen=True)
class RerunReport:
    """The outcome of re-running one stored run."""

    run_id: str
    kind: str
    difference: Difference | None
    config_from: str  # "stored snapshot" or "current configuration (same hash)"
    stored_version: str | None
    package_version: str = __version__
    detail: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def identical(self) -> bool:
        """True when the re-run reproduced the stored run exactly."""
        return self.difference is None

    def __bool__(self) -> bool:
        return self.identical

    def __str__(self) -> str:
        head = f"run {self.run_id} ({self.kind}, configuration: {self.config_from})"
        if self.identical:
            return f"{head}: identical" + (f" ({self.detail})" if self.detail else "")
        return f"{head}: differs; first difference: {self.difference}"


def version_note(stored_version: str | None) -> str | None:
    """Return the warning for a run stored by another package version (or None)."""
    if stored_version and stored_version != __version__:
        return (
            f"this run was stored by circman {stored_version}; this is circman "
            f"{__version__}: the re-run may differ because the package changed"
        )
    return None


class StoreConfigs:
    """Config snapshots and re-runs; see :class:`circman_kernel.store.run_store.RunStore`."""

    def _keep_config(self, tx: Any, config_hash: str | None) -> None:
        """Write the snapshot of ``config_hash`` in ``tx`` unless it is unknown or kept."""
        text = config_snapshots.snapshot(config_hash)
        if text is None:
            return
        tx.execute(
            "INSERT INTO configs (config_hash, config, created_at, package_version) "
            "VALUES (?, ?::JSON, ?, ?) ON CONFLICT DO NOTHING",
            [config_hash, text, utcnow(), __version__],
        )

    def _copy_configs(self, source: Any, run_ids: list[str]) -> int:
        """Copy the snapshots of ``run_ids``' configurations from ``source``; return how many.

        A source older than schema 4 has none to give.
        """
        if not run_ids or source.schema_version < 4:
            return 0
        with source._read() as rx:
            rows = rx.fetchall(
                "SELECT config_hash, config, created_at, package_version FROM configs "
                "WHERE config_hash IN (SELECT config_hash FROM runs WHERE id = ANY(?::VARCHAR[]))",
                [run_ids],
            )
        with self._write() as tx:
            for config_hash, config, created_at, version in rows:
                text = config if isinstance(config, str) else json.dumps(config)
                tx.execute(
                    "INSERT INTO configs (config_hash, config, created_at, package_version) "
                    "VALUES (?, ?::JSON, ?, ?) ON CONFLICT DO NOTHING",
                    [config_hash, text, created_at, version],
                )
        return len(rows)

    def config_snapshot(self, config_hash: str) -> CircmanConfig | None:
        """Return the configuration stored under ``config_hash`` (None when not kept)."""
        with self._read() as rx:
            rows = rx.fetchall("SELECT config FROM configs WHERE config_hash = ?", [config_hash])
        if not rows:
            return None
        data = rows[0][0]
        data = json.loads(data) if isinstance(data, str) else data
        config = CircmanConfig.model_validate({**data, "source": f"stored snapshot {config_hash}"})
        if config.config_hash != config_hash:
            raise StoreError(
                f"{self.path}: the stored configuration {config_hash} hashes to "
                f"{config.config_hash}; the snapshot was altered"
            )
        return config

    def run_config(self, run: Mapping[str, Any]) -> tuple[CircmanConfig, str]:
        """Return the configuration a stored run used and where it came from.

        Raises
        ------
        StoreError
            The run has no config hash, or its snapshot was not kept (a run stored before
            schema 4, or copied from another store) and the current configuration has
            another hash.
        """
        wanted = run.get("config_hash")
        if not wanted:
            raise StoreError(f"run {run['id']} was stored without a configuration hash")
        snap = self.config_snapshot(wanted)
        if snap is not None:
            return snap, "stored snapshot"
        current = load_config()
        if current.config_hash == wanted:
            return current, "current configuration (same hash)"
        raise StoreError(
            f"run {run['id']} used configuration {wanted}, which this store did not keep "
            f"(the current configuration is {current.config_hash}): restore the "
            "configuration it ran with (CIRCMAN_CONFIG_DIR) to re-run it"
        )

    def rerun(self, run_id: str, *, notify: Callable[[str], None] | None = None) -> RerunReport:
        """Re-run a stored run from what the store kept and say whether it is identical.

        Seed, parameters, the initial state (a trajectory's first step) and the stored
        configuration snapshot are used, never the current ``configs/`` files. A run
        stored by another package version is announced through ``notify`` (default: a
        :class:`UserWarning`) before it runs. Nothing is stored.

        Raises
        ------
        StoreError
            Unknown run, a kind that cannot be re-run (the message lists those that can),
            or a configuration that was not kept.
        """
        run = self.get_run(run_id)
        rerunner = reruns.rerunner(run["kind"])
        if rerunner is None:
            raise StoreError(
                f"runs of kind {run['kind']!r} cannot be re-run (run {run_id}); "
                f"re-runnable kinds: {', '.join(reruns.kinds()) or 'none registered'}"
            )
        config, source = self.run_config(run)
        notes = []
        note = version_note(run.get("package_version"))
        if note is not None:
            notes.append(note)
            if notify is None:
                warnings.warn(note, UserWarning, stacklevel=2)
            else:
                notify(note)
        difference, detail = rerunner(self, run, config)
        return RerunReport(
            run_id, run["kind"], difference, source, run.get("package_version"),
            detail=detail, notes=tuple(notes),
        )  # fmt: skip


# ----------------------------------------------------------------------------- comparing
def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def _walk(a: Any, b: Any, path: str) -> Iterator[Difference]:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        # what was stored is compared; a key only the re-run has is a newer output
        for key in a:
            sub = f"{path}.{key}" if path else str(key)
            if key not in b:
                yield Difference(sub, a[key], "(absent)")
                return
            yield from _walk(a[key], b[key], sub)
        return
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        if len(a) != len(b):
            yield Difference(f"{path} (length)", len(a), len(b))
            return
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _walk(x, y, f"{path}[{i}]")
        return
    if not _same(a, b):
        yield Difference(path, a, b)


def first_difference(stored: Any, rerun: Any, *, prefix: str = "") -> Difference | None:
    """Return the first stored value (in the stored order) that the re-run does not repeat.

    Keys the re-run has and the stored record has not (outputs added to the package since)
    are not differences.
    """
    return next(_walk(stored, rerun, prefix), None)


def first_trajectory_difference(stored: pd.DataFrame, rerun: pd.DataFrame) -> Difference | None:
    """Return the first (iteration, step, variable) whose value differs, or None.

    Both frames are long (iteration, step, variable, value); rows are matched on the
    first three, so the stored row order does not matter. Values must be equal exactly.
    """
    key = ["iteration", "step", "variable"]

    def norm(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame[[*key, "value"]].copy()
        if "iteration" not in frame:
            out["iteration"] = 0
        out["variable"] = out["variable"].astype(str)
        out["iteration"] = out["iteration"].astype(np.int64)
        out["step"] = out["step"].astype(np.int64)
        return out.set_index(key)["value"]

    a, b = norm(stored), norm(rerun)
    order = {v: i for i, v in enumerate(dict.fromkeys(stored["variable"].astype(str)))}
    both = a.index.union(b.index)
    va, vb = a.reindex(both).to_numpy(), b.reindex(both).to_numpy()
    present_a, present_b = both.isin(a.index), both.isin(b.index)
    same = (va == vb) | (np.isnan(va) & np.isnan(vb))
    bad = ~(same & present_a & present_b)
    if not bad.any():
        return None
    i = min(
        np.flatnonzero(bad),
        key=lambda j: (both[j][0], both[j][1], order.get(both[j][2], len(order)), both[j][2]),
    )
    it, step, var = both[i]
    return Difference(
        var,
        float(va[i]) if present_a[i] else "(absent)",
        float(vb[i]) if present_b[i] else "(absent)",
        step=int(step),
        iteration=int(it),
    )
