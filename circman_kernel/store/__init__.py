"""The run store: every run, state and event persisted and queryable with SQL.

Owns ``run_store`` (``RunStore``), ``connection`` (short-lived connections and the write
lock), ``schema`` (tables, views and migrations), ``frames`` (DataFrame conversion) and
``extras`` (export, import and Parquet). May import ``core`` only.
"""
