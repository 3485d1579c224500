"""Twin state: the hierarchical state dict of the manual (section 4.1) and its manager."""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = ["default_state"]


def default_state(config: Any = None) -> dict[str, Any]:
    """Return a fresh default twin state (a new dict on every call).

    Parameters
    ----------
    config : CircmanConfig, optional
        When given, the line temperature starts at
        ``SIMULATION_PARAMETERS.target_temperature`` [degC].

    Returns
    -------
    dict
        ``timestamp`` (ISO 8601), ``system_status``, ``batch_id``, ``production_line``
        (temperature [degC], energy_consumption [kW], production_rate [modules/h],
        efficiency and defect_rate [0..1], cycle_time [s/module]), ``materials``
        (inventory [kg], quality [0..1], consumption/waste/recycled [kg]) and
        ``environment`` (temperature [degC], humidity [% RH]).
    """
    temperature = 22.5
    if config is not None:
        temperature = float(config.digital_twin.SIMULATION_PARAMETERS.target_temperature)
    return {
        "timestamp": datetime.now().isoformat(),
        "system_status": "running",
        "batch_id": "B-0001",
        "production_line": {
            "status": "running",
            "temperature": temperature,
            "energy_consumption": 120.5,
            "production_rate": 8.3,
            "efficiency": 0.92,
            "defect_rate": 0.02,
            "cycle_time": 30.0,
        },
        "materials": {
            "silicon_wafer": {
                "inventory": 850.0,
                "quality": 0.95,
                "consumption": 0.0,
                "waste": 0.0,
                "recycled": 0.0,
            },
            "solar_glass": {
                "inventory": 420.0,
                "quality": 0.98,
                "consumption": 0.0,
                "waste": 0.0,
                "recycled": 0.0,
            },
        },
        "environment": {"temperature": 22.0, "humidity": 45.0},
    }
