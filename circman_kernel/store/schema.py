"""Schema of the run store: tables, SQL views and the ordered list of migrations.

The manual's tables (section 11.2: ``states``, ``events``, ``simulations``,
``optimizations``, ``lca_results``, ``scenarios``) are kept, each with a ``run_id`` column
so that a run's rows can be found, exported and deleted together. Every run is registered
in ``runs``; its headline numbers go to ``run_kpis`` and its trajectories to the long
numeric table ``trajectories`` (one row per run, iteration, step and variable) so that
plain SQL can aggregate over them.

A migration is a list of SQL statements run in one transaction together with the row
that records it in ``circman_schema``; the store's version is the largest recorded one.
The statements here are DuckDB's; :mod:`circman_kernel.store.pg_schema` gives the same
migrations (same versions, tables, columns and views) for PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass

# Run kinds and statuses (kept here, free of heavy imports, so the CLI can offer them).
KINDS: tuple[str, ...] = (
    "simulation",
    "monte_carlo",
    "scenario",
    "sweep",
    "optimization",
    "lca",
    "replay",
)
STATUSES: tuple[str, ...] = ("completed", "failed", "cancelled", "running")

SCHEMA_TABLE = "circman_schema"

#: Tables whose rows belong to one run (``run_id``), in the order they are exported.
RUN_TABLES: tuple[str, ...] = (
    "runs",
    "run_kpis",
    "trajectories",
    "simulations",
    "optimizations",
    "lca_results",
    "states",
    "events",
)

#: Tables :meth:`RunStore.save_run` accepts in ``records`` and their columns.
RECORD_COLUMNS: dict[str, tuple[str, ...]] = {
    "simulations": ("id", "run_id", "timestamp", "parameters", "results", "duration", "steps"),
    "optimizations": (
        "id",
        "run_id",
        "timestamp",
        "parameters",
        "constraints",
        "results",
        "improvement",
    ),
    "lca_results": (
        "id",
        "run_id",
        "timestamp",
        "batch_id",
        "manufacturing_impact",
        "use_phase_impact",
        "end_of_life_impact",
        "recycling_benefit",
        "total_impact",
        "details",
    ),
    "states": ("id", "run_id", "timestamp", "state_data", "batch_id", "version"),
}

#: Columns holding JSON text; dict and list values are serialised before insertion.
JSON_COLUMNS: frozenset[str] = frozenset(
    {"parameters", "results", "constraints", "details", "state_data"}
)

EVENT_COLUMNS: tuple[str, ...] = (
    "id",
    "run_id",
    "timestamp",
    "category",
    "severity",
    "source",
    "message",
    "details",
    "acknowledged",
)

USER_COLUMNS: tuple[str, ...] = ("name", "role", "password_hash", "created_at", "updated_at")
AUDIT_COLUMNS: tuple[str, ...] = ("id", "at", "user_name", "action", "target", "details")

#: KPI names that get their own column in the ``run_summary`` view.
HEADLINE_KPIS: tuple[str, ...] = (
    "output_modules",
    "energy_kwh",
    "energy_per_module_kwh",
    "defect_rate",
    "mean_efficiency",
    "total_impact",
)

_TABLES_V1 = [
    f"""CREATE TABLE {SCHEMA_TABLE} (
        version INTEGER PRIMARY KEY,
        description VARCHAR NOT NULL,
        applied_at TIMESTAMP NOT NULL,
        package_version VARCHAR
    )""",
    """CREATE TABLE runs (
        id VARCHAR PRIMARY KEY,
        kind VARCHAR NOT NULL,
        name VARCHAR,
        created_at TIMESTAMP NOT NULL,
        duration_s DOUBLE,
        status VARCHAR NOT NULL,
        seed BIGINT,
        config_hash VARCHAR,
        package_version VARCHAR,
        parameters JSON,
        tags VARCHAR[]
    )""",
    """CREATE TABLE run_kpis (
        run_id VARCHAR NOT NULL,
        kpi VARCHAR NOT NULL,
        value DOUBLE,
        PRIMARY KEY (run_id, kpi)
    )""",
    # no index: an ART index would make 10^6-row bulk inserts several times slower
    """CREATE TABLE trajectories (
        run_id VARCHAR NOT NULL,
        iteration INTEGER NOT NULL,
        step INTEGER NOT NULL,
        variable VARCHAR NOT NULL,
        value DOUBLE
    )""",
    """CREATE TABLE simulations (
        id VARCHAR PRIMARY KEY,
        run_id VARCHAR,
        timestamp TIMESTAMP,
        parameters JSON,
        results JSON,
        duration DOUBLE,
        steps INTEGER
    )""",
    """CREATE TABLE optimizations (
        id VARCHAR PRIMARY KEY,
        run_id VARCHAR,
        timestamp TIMESTAMP,
        parameters JSON,
        constraints JSON,
        results JSON,
        improvement DOUBLE
    )""",
    """CREATE TABLE lca_results (
        id VARCHAR PRIMARY KEY,
        run_id VARCHAR,
        timestamp TIMESTAMP,
        batch_id VARCHAR,
        manufacturing_impact DOUBLE,
        use_phase_impact DOUBLE,
        end_of_life_impact DOUBLE,
        recycling_benefit DOUBLE,
        total_impact DOUBLE,
        details JSON
    )""",
    """CREATE TABLE states (
        id VARCHAR PRIMARY KEY,
        run_id VARCHAR,
        timestamp TIMESTAMP,
        state_data JSON,
        batch_id VARCHAR,
        version INTEGER
    )""",
    """CREATE TABLE events (
        id VARCHAR PRIMARY KEY,
        run_id VARCHAR,
        timestamp TIMESTAMP,
        category VARCHAR,
        severity VARCHAR,
        source VARCHAR,
        message VARCHAR,
        details JSON,
        acknowledged BOOLEAN NOT NULL DEFAULT false
    )""",
    """CREATE TABLE scenarios (
        id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL UNIQUE,
        description VARCHAR,
        parameters JSON,
        created_at TIMESTAMP NOT NULL,
        updated_at TIMESTAMP NOT NULL
    )""",
]

_headline = ",\n        ".join(
    f"max(value) FILTER (WHERE kpi = '{k}') AS {k}" for k in HEADLINE_KPIS
)

_VIEWS_V2 = [
    f"""CREATE VIEW run_summary AS
    SELECT r.id AS run_id, r.kind, r.name, r.created_at, r.duration_s, r.status, r.seed,
           r.config_hash, r.package_version, r.tags,
           {", ".join(f"k.{h}" for h in HEADLINE_KPIS)},
           coalesce(k.n_kpis, 0) AS n_kpis
    FROM runs AS r
    LEFT JOIN (
        SELECT run_id,
        {_headline},
        count(*) AS n_kpis
        FROM run_kpis GROUP BY run_id
    ) AS k ON k.run_id = r.id""",
    """CREATE VIEW run_comparison AS
    SELECT k.kpi, r.id AS run_id, r.name, r.kind, r.created_at, k.value
    FROM run_kpis AS k JOIN runs AS r ON r.id = k.run_id""",
    # SELECT * FROM compare_runs(['id1', 'id2']): the KPIs of 2+ runs side by side (long)
    """CREATE MACRO compare_runs(ids) AS TABLE
    SELECT kpi, run_id, name, kind, value FROM run_comparison
    WHERE list_contains(ids, run_id)""",
    """CREATE VIEW scenario_kpis AS
    SELECT r.name AS scenario, s.description, r.id AS run_id, r.created_at, k.kpi, k.value
    FROM runs AS r
    JOIN run_kpis AS k ON k.run_id = r.id
    LEFT JOIN scenarios AS s ON s.name = r.name
    WHERE r.kind = 'scenario'""",
    """CREATE VIEW lca_phase_totals AS
    SELECT l.run_id, r.name, p.phase, sum(p.impact) AS impact_kg_co2eq, count(*) AS n_results
    FROM lca_results AS l
    LEFT JOIN runs AS r ON r.id = l.run_id
    CROSS JOIN LATERAL (VALUES
        ('manufacturing', l.manufacturing_impact),
        ('use_phase', l.use_phase_impact),
        ('end_of_life', l.end_of_life_impact),
        ('recycling_benefit', l.recycling_benefit),
        ('total', l.total_impact)
    ) AS p(phase, impact)
    GROUP BY l.run_id, r.name, p.phase""",
]


_USERS_V3 = [
    """CREATE TABLE users (
        name VARCHAR PRIMARY KEY,
        role VARCHAR NOT NULL,
        password_hash VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        updated_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE audit (
        id VARCHAR PRIMARY KEY,
        "at" TIMESTAMP NOT NULL,
        user_name VARCHAR NOT NULL,
        action VARCHAR NOT NULL,
        target VARCHAR,
        details JSON
    )""",
    # the position of each row in the run's trajectory frame: the team store returns
    # rows in any order (parallel scans), so the order is stored, not implied
    "ALTER TABLE trajectories ADD COLUMN seq INTEGER",
]


# one row per configuration a stored run used (its three files as canonical JSON), so that
# a run can be re-run with the configuration it had, whatever configs/ holds today
_CONFIGS_V4 = [
    """CREATE TABLE configs (
        config_hash VARCHAR PRIMARY KEY,
        config JSON NOT NULL,
        created_at TIMESTAMP NOT NULL,
        package_version VARCHAR
    )""",
]


# The LCA total of the manual (16.3.3) is manufacturing + use + end of life; the recycling
# credit is reported beside it (EN 15804 module D) and "net" adds it. Computed from the
# stored phases, so runs stored before the change (whose total_impact included the credit)
# show the same total as new ones; a run with a total but no phases keeps its own.
_PHASES3 = ("manufacturing_impact", "use_phase_impact", "end_of_life_impact")


def _lca_total(alias: str, fallback: str) -> str:
    present = " AND ".join(f"{alias}.{p} IS NOT NULL" for p in _PHASES3)
    total = " + ".join(f"{alias}.{p}" for p in _PHASES3)
    return f"CASE WHEN {present} THEN {total} ELSE {fallback} END"


_headline5 = ",\n        ".join(
    f"max(value) FILTER (WHERE kpi = '{k}') AS {k}" for k in (*HEADLINE_KPIS, *_PHASES3)
)
_VIEWS_V5 = [
    "DROP VIEW run_summary",
    f"""CREATE VIEW run_summary AS
    SELECT r.id AS run_id, r.kind, r.name, r.created_at, r.duration_s, r.status, r.seed,
           r.config_hash, r.package_version, r.tags,
           {", ".join(f"k.{h}" for h in HEADLINE_KPIS if h != "total_impact")},
           {_lca_total("k", "k.total_impact")} AS total_impact,
           coalesce(k.n_kpis, 0) AS n_kpis
    FROM runs AS r
    LEFT JOIN (
        SELECT run_id,
        {_headline5},
        count(*) AS n_kpis
        FROM run_kpis GROUP BY run_id
    ) AS k ON k.run_id = r.id""",
    "DROP VIEW lca_phase_totals",
    f"""CREATE VIEW lca_phase_totals AS
    SELECT l.run_id, r.name, p.phase, sum(p.impact) AS impact_kg_co2eq, count(*) AS n_results
    FROM lca_results AS l
    LEFT JOIN runs AS r ON r.id = l.run_id
    CROSS JOIN LATERAL (VALUES
        ('manufacturing', l.manufacturing_impact),
        ('use_phase', l.use_phase_impact),
        ('end_of_life', l.end_of_life_impact),
        ('total', {_lca_total("l", "l.total_impact")}),
        ('recycling_benefit', l.recycling_benefit),
        ('net', {_lca_total("l", "l.total_impact")} + coalesce(l.recycling_benefit, 0))
    ) AS p(phase, impact)
    GROUP BY l.run_id, r.name, p.phase""",
]


@dataclass(frozen=True)
class Migration:
    """One schema step: applying ``statements`` to a version ``version - 1`` file."""

    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "manual tables, runs, run_kpis, trajectories", tuple(_TABLES_V1)),
    Migration(
        2, "views: run_summary, run_comparison, scenario_kpis, lca_phase_totals", tuple(_VIEWS_V2)
    ),
    Migration(3, "users and audit tables, trajectory row order", tuple(_USERS_V3)),
    Migration(4, "configs: the configuration of every stored run", tuple(_CONFIGS_V4)),
    Migration(
        5,
        "views: the LCA total of manual 16.3.3 (manufacturing + use + end of life), "
        "recycling benefit beside it (module D) and the net with it",
        tuple(_VIEWS_V5),
    ),
)

SCHEMA_VERSION: int = MIGRATIONS[-1].version
