"""The dashboards' kernel (:mod:`circman_kernel.apps.kernel`) started for real."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.xdist_group("jupyter-kernels")
def test_dashboard_kernel_builds_the_app_without_the_notebook_stack(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A real kernel from the dashboards' kernel spec: the app works, nbformat is not loaded."""
    from jupyter_client.manager import start_new_kernel

    # as circman dashboard sets it for Voila: the dashboards' share folder first
    monkeypatch.setenv("JUPYTER_PATH", str(REPO / "circman_kernel" / "apps" / "share"))
    km, kc = start_new_kernel(kernel_name="python3", startup_timeout=120)
    try:
        assert "circman_kernel.apps.kernel" in km.kernel_spec.argv
        code = (
            "import sys, time\nt = time.perf_counter()\n"
            "from circman_kernel.apps import simulation_app\napp = simulation_app()\n"
            "print(repr(sorted(m for m in ('nbformat', 'jsonschema', 'rfc3987_syntax') "
            "if sys.modules.get(m) is not None)), len(app.figures['fan'].data))"
        )
        out: list[str] = []
        reply = kc.execute_interactive(
            code,
            timeout=120,
            output_hook=lambda m: (
                out.append(m["content"].get("text", "")) if m["msg_type"] == "stream" else None
            ),
        )
        assert reply["content"]["status"] == "ok", reply["content"]
        assert "".join(out).split() == ["[]", "3"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
