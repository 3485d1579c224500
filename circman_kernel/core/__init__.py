"""The foundation every other part stands on: configuration, typed errors and paths.

Owns ``config`` (the JSON configuration's schema, loading and validation),
``state_schema`` (the twin state's fields, defaults and validators, read by the
configuration, the simulation and the twin), ``errors`` (the package's exception types),
``paths`` (where configuration, data and caches live) and ``version``.
May import nothing else of circman_kernel.
"""
