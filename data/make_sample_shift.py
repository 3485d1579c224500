"""Generate ``sample_shift.csv``: one 8-hour shift of line sensors, one row every 15 s.

Run ``python data/make_sample_shift.py`` to rebuild it (seeded, so the file is identical).
Columns are dotted state paths (``production_line.temperature`` ...), so each row is a
partial twin state. The shift has a 30-minute idle break (production stops, the line
draws less power) and a cooling fault: the line temperature climbs above the 27 degC
threshold for about ten minutes and comes back.
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

SEED = 20250224
START = datetime(2025, 2, 24, 6, 0, 0)
STEP_S = 15.0  # [s] between rows
HOURS = 8.0
WAFER_KG_PER_MODULE = 0.5  # SIMULATION_PARAMETERS.silicon_wafer_consumption_rate
GLASS_KG_PER_MODULE = 0.2  # SIMULATION_PARAMETERS.solar_glass_consumption_rate

COLUMNS = [
    "timestamp",
    "system_status",
    "batch_id",
    "production_line.status",
    "production_line.temperature",
    "production_line.energy_consumption",
    "production_line.production_rate",
    "production_line.efficiency",
    "production_line.defect_rate",
    "production_line.cycle_time",
    "materials.silicon_wafer.inventory",
    "materials.silicon_wafer.quality",
    "materials.silicon_wafer.consumption",
    "materials.solar_glass.inventory",
    "materials.solar_glass.quality",
    "materials.solar_glass.consumption",
    "environment.temperature",
    "environment.humidity",
]


def make_rows(seed: int = SEED) -> list[dict[str, object]]:
    """Return the shift's rows (dicts keyed by :data:`COLUMNS`)."""
    rng = np.random.default_rng(seed)
    n = int(HOURS * 3600 / STEP_S) + 1
    t_h = np.arange(n) * STEP_S / 3600.0  # [h] since shift start
    idle = (t_h >= 4.0) & (t_h < 4.5)
    # Hall climate: mild warming through the morning, humidity drifting down.
    env_t = 21.0 + 1.5 * np.sin(np.pi * t_h / HOURS) + rng.normal(0, 0.1, n).cumsum() * 0.02
    env_h = 48.0 - 0.6 * t_h + rng.normal(0, 0.3, n)
    # Line temperature: regulated at 22.5 degC, AR(1) noise; a cooling fault at 2:30-2:50
    # ramps it to about 28.5 degC, then the regulator pulls it back.
    line_t = np.empty(n)
    x = 22.5
    for i in range(n):
        target = 22.5 + (6.0 if 2.5 <= t_h[i] < 2.67 else 0.0) - (1.0 if idle[i] else 0.0)
        x += 0.08 * (target - x) + rng.normal(0, 0.05)
        line_t[i] = x
    rate = np.where(idle, 0.0, 8.3 + rng.normal(0, 0.15, n))  # [modules/h]
    rate -= np.where(line_t > 26.0, 1.0, 0.0)
    power = np.where(idle, 42.0, 118.0 + 2.0 * (rate - 8.3)) + rng.normal(0, 1.0, n)  # [kW]
    power += np.clip(line_t - 24.0, 0.0, None) * 3.0  # chillers work harder when hot
    efficiency = np.clip(0.92 + rng.normal(0, 0.005, n) - 0.01 * (line_t > 26.0), 0, 1)
    defect = np.clip(0.02 + rng.normal(0, 0.002, n) + 0.015 * (line_t > 26.0), 0, 1)
    cycle = 30.0 + rng.normal(0, 0.4, n) + 2.0 * (line_t > 26.0)  # [s] station cycle time
    modules = rate * STEP_S / 3600.0  # modules made in each 15 s period
    wafer_use = modules * WAFER_KG_PER_MODULE
    glass_use = modules * GLASS_KG_PER_MODULE
    wafer_inv = 850.0 - np.cumsum(wafer_use)
    glass_inv = 420.0 - np.cumsum(glass_use)
    rows = []
    for i in range(n):
        status = "idle" if idle[i] else "running"
        rows.append(
            {
                "timestamp": (START + timedelta(seconds=i * STEP_S)).isoformat(),
                "system_status": status,
                "batch_id": "B-0001" if t_h[i] < 4.0 else "B-0002",
                "production_line.status": status,
                "production_line.temperature": round(float(line_t[i]), 3),
                "production_line.energy_consumption": round(float(power[i]), 2),
                "production_line.production_rate": round(float(max(rate[i], 0.0)), 3),
                "production_line.efficiency": round(float(efficiency[i]), 4),
                "production_line.defect_rate": round(float(defect[i]), 4),
                "production_line.cycle_time": round(float(cycle[i]), 2),
                "materials.silicon_wafer.inventory": round(float(wafer_inv[i]), 4),
                "materials.silicon_wafer.quality": 0.95,
                "materials.silicon_wafer.consumption": round(float(wafer_use[i]), 5),
                "materials.solar_glass.inventory": round(float(glass_inv[i]), 4),
                "materials.solar_glass.quality": 0.98,
                "materials.solar_glass.consumption": round(float(glass_use[i]), 5),
                "environment.temperature": round(float(env_t[i]), 2),
                "environment.humidity": round(float(env_h[i]), 1),
            }
        )
    return rows


def main(path: Path | None = None) -> Path:
    """Write the CSV (default: next to this script) and return its path."""
    path = path or Path(__file__).with_name("sample_shift.csv")
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(make_rows())
    return path


if __name__ == "__main__":
    print(main())
