"""The guided notebooks run in a fresh real kernel and compute what they teach.

Each notebook is executed from a temporary copy with ``CIRCMAN_DB`` pointing at a
temporary file. The nbclient run puts the reference solution of every exercise into its
``# YOUR ANSWER`` cell and asserts that every self-check then says *correct*; the nbval run
(lax mode: plotly output carries random ids) executes the notebooks as committed, with the
placeholder answers, which must not make them fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from circman_kernel import teaching
from circman_kernel.teaching import solutions as teaching_solutions

REPO = Path(__file__).resolve().parents[2]
NB_DIR = REPO / "notebooks"
NOTEBOOKS = sorted(p.name for p in NB_DIR.glob("0*.ipynb"))
TIMEOUT_S = 120  # per cell; each notebook is meant to finish well under 60 s

pytestmark = [
    pytest.mark.notebook,
    pytest.mark.slow,
    pytest.mark.xdist_group("jupyter-kernels"),
]  # shares a worker with the browser tests


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["CIRCMAN_DB"] = str(tmp_path / "notebook.duckdb")
    env["PLOTLY_RENDERER"] = "plotly_mimetype"  # figure JSON only, not plotly.js per output
    return env


def _exercise_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if "exercise" in c.metadata.get("tags", [])]


def _outputs_text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(out.data.get("text/plain", ""))
        elif out.output_type == "error":
            parts.append("\n".join(out.traceback))
    return "\n".join(parts)


def test_all_seven_notebooks_exist() -> None:
    assert NOTEBOOKS == [
        "01_digital_twin.ipynb",
        "02_simulation_monte_carlo.ipynb",
        "03_scenarios_sweeps.ipynb",
        "04_surrogate_optimisation.ipynb",
        "05_life_cycle_assessment.ipynb",
        "06_sql_over_runs.ipynb",
        "07_realtime_and_dask.ipynb",
    ]


def test_notebooks_are_committed_stripped_and_without_solutions() -> None:
    assert NOTEBOOKS
    for name in NOTEBOOKS:
        nb = nbformat.read(NB_DIR / name, as_version=4)
        assert "widgets" not in nb.metadata, name
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, name
        text = (NB_DIR / name).read_text()
        assert "teaching_solutions" not in text, f"{name} must not contain the solutions"


def test_notebooks_are_up_to_date_with_their_generator() -> None:
    proc = subprocess.run(
        [sys.executable, str(NB_DIR / "_build.py"), "--check"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_exercise_has_a_cell_and_a_self_check() -> None:
    seen = set()
    for name in NOTEBOOKS:
        nb = nbformat.read(NB_DIR / name, as_version=4)
        cells = nb.cells
        assert cells[0].cell_type == "markdown" and "Learning goals" in cells[0].source, name
        for i, cell in enumerate(cells):
            if "exercise" not in cell.metadata.get("tags", []):
                continue
            ex = teaching.EXERCISES[cell.metadata["exercise"]]
            assert ex.notebook == name
            assert cell.source.startswith("# YOUR ANSWER")
            assert "answer = None" in cell.source
            assert cells[i + 1].source.strip() == f"teaching.check_{ex.name}(answer)"
            seen.add(ex.id)
        assert any("exercise" in c.metadata.get("tags", []) for c in cells), name
    assert seen == set(teaching.EXERCISES)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_with_reference_solutions_checks_correct(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "nb"
    work.mkdir()
    nb = nbformat.read(NB_DIR / name, as_version=4)
    for cell in _exercise_cells(nb):
        cell.source = (
            f"# reference solution injected by the test\n"
            f"{teaching_solutions.code(cell.metadata['exercise'])}"
        )
    for key, value in _env(tmp_path).items():  # the kernel inherits the environment
        monkeypatch.setenv(key, value)
    NotebookClient(
        nb, timeout=TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": work}}
    ).execute()
    checks = [c for c in nb.cells if "self-check" in c.metadata.get("tags", [])]
    assert checks, name
    for cell in checks:
        text = _outputs_text(cell)
        assert "✔ correct" in text, f"{name} {cell.metadata['exercise']}: {text}"
    # self-contained: nothing written next to the notebook (each uses its own temporary store)
    assert list(work.iterdir()) == []


def test_notebooks_run_as_committed_under_nbval_lax(tmp_path: Path) -> None:
    work = tmp_path / "nbval"
    work.mkdir()
    for name in NOTEBOOKS:
        shutil.copy(NB_DIR / name, work / name)
    (work / "pytest.ini").write_text("[pytest]\naddopts =\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--nbval-lax",
            "--nbval-cell-timeout",
            str(TIMEOUT_S),
            *NOTEBOOKS,
        ],
        cwd=work,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    summary = proc.stdout.strip().splitlines()[-1]
    assert "passed" in summary and "failed" not in summary, summary
