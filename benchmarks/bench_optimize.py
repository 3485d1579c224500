"""AI integration figures: surrogate training, constrained optimisation, Pareto front."""

from __future__ import annotations

import os
import tempfile

from benchmarks.harness import Figure, bench, median_time

START = {"target_temperature": 28.0, "temperature_regulation": 0.1, "cycle_time": 45.0}
HOT_LINE = {"temperature": 29.0, "energy_consumption": 120.5, "production_rate": 8.3}


def _model(n: int = 2000):
    from circman_kernel.ai.model import ManufacturingModel
    from circman_kernel.ai.surrogate_data import synthetic_history
    from circman_kernel.core.config import load_config

    cfg = load_config()
    model = ManufacturingModel(cfg)
    model.train_optimization_model(*synthetic_history(n, seed=42, config=cfg))
    return cfg, model


@bench("ai integration")
def training() -> list[Figure]:
    from circman_kernel.ai.model import ManufacturingModel
    from circman_kernel.ai.surrogate_data import synthetic_history
    from circman_kernel.core.config import load_config

    cfg = load_config()
    data = synthetic_history(5000, seed=42, config=cfg)
    train, train_samples = median_time(
        lambda: ManufacturingModel(cfg).train_optimization_model(*data), repeat=5
    )
    figures = [
        Figure(
            "train surrogate on 5,000 samples (5-fold CV + fit)",
            train,
            target=2.0,
            samples=train_samples,
        )
    ]

    def cold_default() -> None:
        with tempfile.TemporaryDirectory() as cache:
            ManufacturingModel.default(cfg, cache_dir=cache)

    cold, cold_samples = median_time(cold_default, repeat=3)
    figures.append(
        Figure(
            "default model from scratch (2,000-batch history + train + save)",
            cold,
            target=2.0,
            samples=cold_samples,
        )
    )
    return figures


@bench("ai integration")
def constrained_optimisation() -> Figure:
    import numpy as np
    from scipy.optimize import minimize

    from circman_kernel.ai.optimize import ProcessOptimizer

    cfg, model = _model()
    opt = ProcessOptimizer(model, cfg, seed=1)

    def ours() -> None:
        opt.optimize_for_efficiency(START, min_quality=0.9, fixed=HOT_LINE)

    median, samples = median_time(ours, repeat=7)

    # The manual's shape (its section 7.3): one unconstrained L-BFGS-B run whose objective
    # converts the array to a dict and predicts one row at a time, scipy's own finite
    # differences, no multi-start and no honesty check.
    names = list(START)
    bounds = [(16.0, 30.0), (0.05, 0.5), (20.0, 60.0)]

    def manual_shape() -> None:
        def objective(x: np.ndarray) -> float:
            p = model.predict_batch_outcomes({**HOT_LINE, **dict(zip(names, x, strict=True))})
            return -p["efficiency"] * 100 + p["energy_used"] * 0.1 + p["defect_rate"] * 1000

        minimize(objective, np.array(list(START.values())), method="L-BFGS-B", bounds=bounds)

    ref, _ = median_time(manual_shape, repeat=3)
    return Figure(
        f"constrained optimisation (SLSQP, {cfg.optimization.SOLVER.n_starts} starts, honesty "
        f"check {cfg.optimization.SOLVER.honesty_iterations} MC runs)",
        median,
        target=0.3,
        samples=samples,
        reference=ref,
        reference_name="manual's shape: 1 start, per-call dict predict, unconstrained, no check",
    )


@bench("ai integration")
def pareto_front() -> Figure:
    from circman_kernel.ai.optimize import ProcessOptimizer

    cfg, model = _model()
    opt = ProcessOptimizer(model, cfg)
    sizes = []

    def run() -> None:
        front = opt.optimize_pareto(START, fixed=HOT_LINE, population_size=100, generations=40)
        sizes.append(len(front))

    median, samples = median_time(run, repeat=3)
    return Figure(
        f"Pareto front, NSGA-II 100 x 40 generations ({min(sizes)} points)",
        median,
        target=3.0,
        samples=samples,
    )


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("CIRCMAN_CACHE_DIR", tempfile.mkdtemp())
    for fn in (training, constrained_optimisation, pareto_front):
        print(fn())
