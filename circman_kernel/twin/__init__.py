"""The digital twin: the line's current state, its history, events and data sources.

Owns ``state`` (``StateManager``: validation and history), ``events`` (event types and the
``EventManager`` bus), ``sync`` (CSV replay, simulated sensors, manual input and the
``Synchronizer``) and ``digital_twin`` (``DigitalTwin``, which composes them).
May import ``core``, ``lca`` and ``simulation`` (``DigitalTwin.simulate`` runs the
engine from the twin's current state).
"""
