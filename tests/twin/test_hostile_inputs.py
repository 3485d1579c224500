"""Property tests: arbitrary input at the edges ends in circman's typed errors only
(issue 20, acceptance), and a rejected input changes neither the twin nor the store.

Three edges: JSON-like values given to ``twin.update``, bytes given to
``CSVReplaySource`` (replayed and recorded), and configuration edits given to
``load_config`` (dotted overrides of any path with any value).
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from circman_kernel.core.config import load_config
from circman_kernel.core.errors import CircmanError, ConfigError, DataSourceError
from circman_kernel.store.run_store import RunStore
from circman_kernel.twin.digital_twin import DigitalTwin
from circman_kernel.twin.sources import CSVReplaySource
from circman_kernel.twin.sync import Synchronizer

pytestmark = pytest.mark.slow  # hundreds of examples, each through the twin or the store

# keys of the state schema mixed with arbitrary text, so that values reach deep checks
KEYS = st.sampled_from(
    [
        "timestamp", "system_status", "batch_id", "production_line", "temperature",
        "energy_consumption", "production_rate", "efficiency", "defect_rate", "cycle_time",
        "status", "materials", "silicon_wafer", "inventory", "quality", "environment",
        "humidity", "extra", "production_line.temperature", "materials.glass.inventory",
        "temprature", "", ".", "a..b",
    ]
) | st.text(max_size=12)  # fmt: skip
NUMBERS = (
    st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([2**63, -(2**63) - 1, 1e308, 5e-324, -0.0])
)
LEAVES = st.none() | st.booleans() | NUMBERS | st.text(max_size=30)
JSON_LIKE = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=20,
)
UPDATES = st.dictionaries(KEYS, JSON_LIKE, max_size=5) | JSON_LIKE


def _deep(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"temperature": 23.0}
    for _ in range(levels):
        node = {"production_line": node}
    return node


def _store_rows(store: RunStore) -> tuple[int, ...]:
    q = "SELECT " + ", ".join(
        f"(SELECT count(*) FROM {t})" for t in ("runs", "events", "states", "trajectories")
    )
    return tuple(int(v) for v in store._frame(q).iloc[0])  # no query snapshot: faster


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> tuple[DigitalTwin, RunStore]:
    store = RunStore(tmp_path_factory.mktemp("hostile") / "runs.duckdb")
    twin = DigitalTwin(load_config(), store=store, seed=0)
    twin.initialize()
    return twin, store


def _snapshot(twin: DigitalTwin, store: RunStore) -> tuple[Any, ...]:
    twin.event_manager.flush()
    return (
        json.dumps(twin.get_current_state(), sort_keys=True),
        len(twin.state_manager.get_history()),
        len(twin.event_manager.get_events(limit=None)),
        _store_rows(store),
    )


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=UPDATES)
@example(data={"production_line": {"temprature": 23}})
@example(data={"custom": 10**400})
@example(data={"production_line.temperature": math.inf})
def test_twin_update_raises_typed_errors_and_changes_nothing(shared, data) -> None:
    twin, store = shared
    before = _snapshot(twin, store)
    try:
        twin.update(data)
    except CircmanError:
        assert _snapshot(twin, store) == before
    else:
        # an accepted update is stored state that serialises as JSON
        json.dumps(twin.get_current_state(), allow_nan=False)


@pytest.mark.parametrize("levels", [1_000, 100_000])
def test_deep_nesting_is_a_typed_error(shared, levels: int) -> None:
    # a plain test: hypothesis cannot print a 1,000-deep example
    twin, store = shared
    before = _snapshot(twin, store)
    with pytest.raises(CircmanError):
        twin.update(_deep(levels))
    assert _snapshot(twin, store) == before


CSV_HEADER = b"timestamp,system_status,production_line.temperature,environment.humidity\n"
CSV_LINES = st.lists(
    st.binary(max_size=60)
    | st.sampled_from(
        [
            b"2025-02-24T06:00:00,running,22.5,45\n",
            b"2025-02-24T05:00:00,idle,2_2,45\n",
            b"2025-02-24T07:00:00,running,inf,\n",
            b'2025-02-24T07:00:01,"unterminated,22.5,45\n',
            b"2025-02-24T07:00:02,b\xe9,22.5,45\n",
            b"\xef\xbb\xbf",
            b"\x00\r\n",
        ]
    ),
    max_size=8,
).map(b"".join)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=CSV_LINES, header=st.booleans(), skip=st.booleans())
def test_csv_bytes_raise_data_source_errors_only(shared, tmp_path_factory, body, header, skip):
    twin, store = shared
    path = tmp_path_factory.mktemp("csv") / "feed.csv"
    path.write_bytes((CSV_HEADER if header else b"") + body)
    runs, _, states, traj = _store_rows(store)
    try:
        source = CSVReplaySource(path, on_error="skip" if skip else "raise")
        n = Synchronizer(twin, source).run_batch(record=True)
    except DataSourceError as err:
        assert err.file == str(path) and isinstance(err.line, int) and err.line >= 1
        assert f"{path}:{err.line}: " in str(err)
        after = _store_rows(store)
        assert (after[0], after[2], after[3]) == (runs, states, traj)  # nothing recorded
        return
    after = _store_rows(store)
    assert (after[0], after[2]) == ((runs + 1, states + n) if n else (runs, states))
    if n:
        newest = store.runs(limit=1).iloc[0]
        assert newest["status"] == "completed"
        assert store.get_run(newest["id"])["kpis"]["rows"] == n


CONFIG_PATHS = st.sampled_from(
    [
        "digital_twin.DIGITAL_TWIN_CONFIG.history_length",
        "digital_twin.DIGITAL_TWIN_CONFIG.update_frequency",
        "digital_twin.SIMULATION_PARAMETERS.target_temperature",
        "digital_twin.PARAMETER_THRESHOLDS.production_line.temperature",
        "digital_twin.PARAMETER_THRESHOLDS",
        "digital_twin.AI_INTEGRATION.OPTIMIZATION_CONSTRAINTS",
        "impact_factors.MATERIAL_IMPACT_FACTORS",
        "impact_factors.MATERIAL_IMPACT_FACTORS.silicon_wafer",
        "impact_factors.FACTOR_UNCERTAINTY",
        "optimization.OBJECTIVE_WEIGHTS",
        "optimization.OBJECTIVE_WEIGHTS.efficiency",
        "optimization.MODEL.training_samples",
        "optimization.PARETO.population_size",
        "optimization.SOLVER",
        "optimization",
        "nowhere.at.all",
    ]
) | st.text(max_size=40)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(edits=st.dictionaries(CONFIG_PATHS, JSON_LIKE, min_size=1, max_size=3))
@example(edits={"optimization.MODEL.training_samples": 10**12})
@example(edits={"optimization.OBJECTIVE_WEIGHTS": {"efficency": 1.0}})
def test_config_edits_raise_config_errors_only(config, edits) -> None:
    before = config.config_hash
    try:
        changed = load_config(overrides=edits)
    except ConfigError as err:
        assert str(err).startswith("override")
    else:
        assert changed.source.endswith("+ overrides")
    assert config.config_hash == before  # the loaded configuration is never changed
