"""ManufacturingModel: training, prediction, uncertainty, versioned files, synthetic history."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from circman_kernel.ai.model import (
    TARGETS,
    ManufacturingModel,
    PolynomialRidge,
    read_model_file,
    write_model_file,
)
from circman_kernel.ai.surrogate_data import FEATURES, simulate_outcomes, synthetic_history
from circman_kernel.core.errors import ModelError, ParameterError


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("CIRCMAN_CACHE_DIR", str(cache))
    return cache


def bowl(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """A known surface: efficiency peaks at cycle_time 30, energy is lowest at y 4."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(20, 60, n)
    y = rng.uniform(0, 10, n)
    return pd.DataFrame(
        {
            "cycle_time": x,
            "y": y,
            "efficiency": 0.9 - 0.001 * (x - 30) ** 2,
            "energy_used": 40 + 2 * (y - 4) ** 2,
            "defect_rate": np.full(n, 0.02),
        }
    )


@pytest.fixture(scope="module")
def history() -> tuple[pd.DataFrame, pd.DataFrame]:
    return synthetic_history(600, seed=3)


def test_training_returns_cross_validated_metrics_per_target() -> None:
    model = ManufacturingModel(cv_folds=4)
    metrics = model.train_optimization_model(bowl())
    for t in ("efficiency", "energy_used", "defect_rate"):
        assert f"{t}_r2" in metrics and f"{t}_mae" in metrics
    # A cubic fits a quadratic exactly, so out-of-fold errors are ~0.
    assert metrics["efficiency_r2"] > 0.9999 and metrics["efficiency_mae"] < 1e-4
    assert metrics["n_samples"] == 400
    assert list(model.cv_metrics_.index) == ["energy_used", "efficiency", "defect_rate"]
    assert model.feature_names_ == ("cycle_time", "y")
    lo, hi = model.feature_ranges_["cycle_time"]
    assert 20 <= lo < 21 and 59 < hi <= 60


def test_polynomial_ridge_matches_scikit_learn_pipeline() -> None:
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3)) * [1, 10, 100]
    Y = np.column_stack([np.sin(X[:, 0]) + X[:, 1] * X[:, 2] / 100, X[:, 0] ** 3])
    ours = PolynomialRidge(degree=3, alpha=0.5).fit(X, Y).predict(X)
    ref = (
        make_pipeline(StandardScaler(), PolynomialFeatures(3, include_bias=False), Ridge(alpha=0.5))
        .fit(X, Y)
        .predict(X)
    )
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)


def test_prediction_dict_and_frame_agree_and_fill_missing_with_median() -> None:
    model = ManufacturingModel()
    model.train_optimization_model(bowl())
    one = model.predict_batch_outcomes({"cycle_time": 30.0, "y": 4.0})
    assert one["efficiency"] == pytest.approx(0.9, abs=1e-5)
    assert one["energy_used"] == pytest.approx(40.0, abs=1e-3)
    assert one["in_training_range"] is True
    frame = pd.DataFrame({"cycle_time": [30.0, 40.0], "y": [4.0, 6.0]}, index=[7, 9])
    many = model.predict_batch_outcomes(frame)
    assert list(many.index) == [7, 9]
    assert many.loc[7, "efficiency"] == pytest.approx(one["efficiency"])
    assert many.loc[9, "efficiency"] == pytest.approx(0.9 - 0.1, abs=1e-5)
    median_y = model.feature_defaults_["y"]
    partial = model.predict_batch_outcomes({"cycle_time": 30.0})
    assert partial["energy_used"] == pytest.approx(40 + 2 * (median_y - 4) ** 2, abs=1e-3)
    outside = model.predict_batch_outcomes({"cycle_time": 90.0, "y": 4.0})
    assert outside["in_training_range"] is False


def test_observed_outcomes_are_ignored_and_unknown_names_rejected() -> None:
    model = ManufacturingModel()
    model.train_optimization_model(bowl())
    a = model.predict_batch_outcomes({"cycle_time": 30.0, "y": 4.0})
    b = model.predict_batch_outcomes({"cycle_time": 30.0, "y": 4.0, "energy_used": 999.0})
    assert a == b
    with pytest.raises(ParameterError, match="cycle_tme.*did you mean 'cycle_time'"):
        model.predict_batch_outcomes({"cycle_tme": 30.0})
    with pytest.raises(ParameterError, match="NaN"):
        model.predict_batch_outcomes({"cycle_time": float("nan")})
    with pytest.raises(ParameterError, match="numbers"):
        model.predict_batch_outcomes({"cycle_time": "fast"})


def test_untrained_model_raises_model_error(tmp_path: Path) -> None:
    model = ManufacturingModel()
    assert not model.is_trained
    with pytest.raises(ModelError, match="not trained"):
        model.predict_batch_outcomes({"cycle_time": 30.0})
    with pytest.raises(ModelError, match="not trained"):
        model.save_model(tmp_path / "m.cmm")


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (bowl().assign(y=np.nan), "y: 400 value"),
        (bowl().head(5), "at least 10 rows"),
        (bowl().drop(columns=["efficiency", "energy_used", "defect_rate"]), "no target column"),
        (bowl()[["efficiency"]], "no numeric feature"),
    ],
)
def test_bad_training_data_raises_parameter_error(data: pd.DataFrame, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        ManufacturingModel().train_optimization_model(data)


def test_quality_table_joins_on_batch_id(history: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    production, quality = history
    shuffled = quality.sample(frac=1.0, random_state=0)
    a = ManufacturingModel().train_optimization_model(production, quality)
    b = ManufacturingModel().train_optimization_model(production, shuffled)
    assert a["efficiency_r2"] == pytest.approx(b["efficiency_r2"])
    with pytest.raises(ParameterError, match="matches 599 of 600"):
        ManufacturingModel().train_optimization_model(production, quality.iloc[1:])
    # plant exports stamp both tables; the stamps differ and are not features
    stamped_p = production.assign(timestamp=pd.date_range("2025-02-24", periods=600, freq="h"))
    stamped_q = shuffled.assign(timestamp=pd.date_range("2025-03-01", periods=600, freq="h"))
    model = ManufacturingModel()
    c = model.train_optimization_model(stamped_p, stamped_q)
    assert c["efficiency_r2"] == pytest.approx(a["efficiency_r2"])
    assert "timestamp" not in model.feature_names_
    # a data column in both tables is still ambiguous
    with pytest.raises(ParameterError, match=r"\['cycle_time'\] appear in both"):
        ManufacturingModel().train_optimization_model(
            production, quality.assign(cycle_time=production["cycle_time"])
        )


@pytest.mark.parametrize("estimator", ["polynomial", "random_forest"])
def test_save_load_gives_identical_predictions(tmp_path: Path, estimator: str) -> None:
    model = ManufacturingModel(estimator=estimator, n_estimators=20, max_depth=6)
    model.train_optimization_model(bowl())
    path = tmp_path / "model.cmm"
    assert model.save_model(path) is True
    grid = pd.DataFrame({"cycle_time": np.linspace(20, 60, 17), "y": np.linspace(0, 10, 17)})
    loaded = ManufacturingModel()
    assert loaded.load_model(path) is True
    pd.testing.assert_frame_equal(
        model.predict_batch_outcomes(grid), loaded.predict_batch_outcomes(grid), check_exact=True
    )
    assert loaded.feature_ranges_ == model.feature_ranges_
    header, _ = read_model_file(path)
    assert header["feature_names"] == ["cycle_time", "y"]
    assert header["feature_ranges"]["y"] == list(model.feature_ranges_["y"])


def test_tree_ensemble_uncertainty_varies_per_row() -> None:
    model = ManufacturingModel(estimator="random_forest", n_estimators=30, max_depth=8)
    model.train_optimization_model(bowl())
    out = model.predict_batch_outcomes(
        pd.DataFrame({"cycle_time": [21.0, 30.0, 59.0], "y": [5.0, 5.0, 5.0]})
    )
    assert (out["efficiency_std"] >= 0).all() and out["efficiency_std"].nunique() > 1


def test_foreign_file_is_refused_without_unpickling(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):  # runs on unpickling
            return (Path.touch, (marker,))

    evil = tmp_path / "evil.cmm"
    evil.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ModelError, match="not a circman model file"):
        ManufacturingModel().load_model(evil)
    assert not marker.exists()
    empty = tmp_path / "empty.cmm"
    empty.write_bytes(b"")
    with pytest.raises(ModelError, match="not a circman model file"):
        ManufacturingModel().load_model(empty)
    with pytest.raises(ModelError, match="no model file"):
        ManufacturingModel().load_model(tmp_path / "missing.cmm")


def _resaved(tmp_path: Path, **header_changes: object) -> Path:
    model = ManufacturingModel()
    model.train_optimization_model(bowl())
    path = tmp_path / "m.cmm"
    model.save_model(path)
    header, payload = read_model_file(path)
    header.update(header_changes)
    write_model_file(path, header, payload)
    return path


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"package_version": "99.0.0"}, "circman 99.0.0.*incompatible"),
        ({"sklearn_version": "0.1.0"}, "scikit-learn 0.1.0"),
        ({"format_version": 2}, "format 2"),
        ({"format": "someone.else"}, "not a circman model file"),
        ({"payload_sha256": "0" * 64}, "checksum"),
    ],
)
def test_incompatible_or_tampered_file_gives_model_error(
    tmp_path: Path, change: dict, match: str
) -> None:
    path = _resaved(tmp_path, **change)
    with pytest.raises(ModelError, match=match):
        ManufacturingModel().load_model(path)


def test_synthetic_history_is_seeded_and_physical(
    history: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    production, quality = history
    again = synthetic_history(600, seed=3)
    pd.testing.assert_frame_equal(production, again[0])
    pd.testing.assert_frame_equal(quality, again[1])
    other = synthetic_history(600, seed=4)[0]
    assert not production["output_amount"].equals(other["output_amount"])
    assert set(FEATURES) <= set(production.columns)
    for name, (lo, hi, _unit, _m) in FEATURES.items():
        assert production[name].between(lo, hi).all()
    # Process-model invariants: efficiency never above its base, rates in [0, 1].
    assert (quality["efficiency"] <= 0.92 + 1e-12).all()
    assert quality["defect_rate"].between(0, 1).all()
    assert (production["output_amount"] >= 0).all()


def test_simulated_outcomes_match_the_manual_power_equation() -> None:
    # Power grows by 2 kW x N(1, 0.1) a running step; without noise the 8-step mean of
    # P_1..P_8 from 100 kW is 100 + 2 * (1 + ... + 8) / 8 = 109 kW.
    from circman_kernel.core.config import load_config

    cfg = load_config().with_overrides(
        {
            "digital_twin.SIMULATION_PARAMETERS.energy_noise": 0.0,
            "digital_twin.SIMULATION_PARAMETERS.temperature_noise": 0.0,
        }
    )
    out = simulate_outcomes(
        {"energy_consumption": 100.0, "temperature": 22.5, "target_temperature": 22.5},
        iterations=2,
        config=cfg,
    )
    assert out["energy_used"].tolist() == pytest.approx([109.0, 109.0])
    assert out["efficiency"].tolist() == pytest.approx([0.92, 0.92])


def test_default_model_is_cached_in_the_user_cache_not_the_cwd(
    _cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    from circman_kernel.core.config import load_config

    cfg = load_config().with_overrides({"optimization.MODEL.training_samples": 300})
    first = ManufacturingModel.default(cfg)
    files = list(_cache.glob("*.cmm"))
    assert len(files) == 1 and cfg.config_hash in files[0].name
    assert not list(tmp_path.glob("*.cmm"))
    stamp = files[0].stat().st_mtime_ns
    second = ManufacturingModel.default(cfg)
    assert files[0].stat().st_mtime_ns == stamp  # loaded, not retrained
    probe = {"cycle_time": 35.0, "temperature": 25.0}
    assert first.predict_batch_outcomes(probe) == second.predict_batch_outcomes(probe)
    files[0].write_bytes(b"garbage")
    third = ManufacturingModel.default(cfg)  # a broken cache is replaced
    assert third.predict_batch_outcomes(probe) == first.predict_batch_outcomes(probe)
    assert set(first.target_names_) == set(TARGETS)
    assert json.loads(json.dumps(first.feature_ranges_))
