"""Performance benchmarks: ``make bench`` / ``python -m benchmarks``.

Each ``benchmarks/bench_*.py`` module defines functions decorated with
:func:`benchmarks.harness.bench`; each returns one or more
:class:`~benchmarks.harness.Figure` values (a median over repeated runs, its target and,
where there is one, a reference measured in the same run).
"""
