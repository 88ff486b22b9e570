"""The three tasks end to end: multiclass (iris), regression (a planted linear function),
and a LIBSVM data set of dimension 2^20 that trains with bounded memory because its
features are never densified.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import write
from tuner.tabular.model.config import metric_names

DIMENSION = 2**20
MB = 1 << 20


def _train(config: dict, trial_dir: Path) -> tuple[dict, list[tuple[int, dict]]]:
    from tuner.tabular.model.train import run_trial

    reports: list[tuple[int, dict]] = []
    payload = run_trial(config, lambda e, m: reports.append((e, m)), trial_dir, export=False)
    assert payload["status"] == "complete"
    assert [e for e, _ in reports] == list(range(1, config["epochs"] + 1))
    for _, metrics in reports:
        assert set(metrics) == metric_names(payload["config"])
        assert all(math.isfinite(v) for v in metrics.values()), metrics
    return payload, reports


# ---------------------------------------------------------------- multiclass


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.datasets import load_iris

    from tuner.tabular.data.convert import ConvertOptions, convert

    bunch = load_iris()
    root = tmp_path_factory.mktemp("iris")
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    lines = [",".join([*names, "species"])]
    for row, target in zip(bunch.data, bunch.target, strict=True):
        lines.append(",".join([*(f"{v:g}" for v in row), str(bunch.target_names[target])]))
    write(root / "iris.csv", "\n".join(lines) + "\n")
    convert(root / "iris.csv", root / "ds", ConvertOptions(split=0.3, seed=1))
    return root / "ds"


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_multiclass_iris(iris, tmp_path):
    from tuner.tabular.data.schema import load_schema

    schema = load_schema(iris)
    assert schema.label.kind == "multiclass"
    assert schema.label.classes == ("setosa", "versicolor", "virginica")
    config = {
        "dataset": str(iris),
        "model": "dnn",
        "hidden_units": [16],
        "optimizer": "adam",
        "learning_rate": 0.05,
        "batch_size": 16,
        "epochs": 12,
        "top_k": 2,
    }
    payload, reports = _train(config, tmp_path)
    final = reports[-1][1]
    print(
        f"iris: val_accuracy {final['val_accuracy']:.3f}, top-2 {final['val_top_k_accuracy']:.3f}"
    )
    assert {"top_k_accuracy", "val_top_k_accuracy"} <= set(final)
    assert final["val_accuracy"] >= 0.8, final  # chance is 1/3
    assert final["val_top_k_accuracy"] >= final["val_accuracy"]
    assert final["val_top_k_accuracy"] >= 0.9
    assert reports[-1][1]["val_loss"] < reports[0][1]["val_loss"]
    assert payload["config"]["top_k"] == 2
    assert payload["best"]["metric"] == "val_loss"


# ---------------------------------------------------------------- regression


@pytest.fixture(scope="module")
def planted_regression(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """y = 2 + 3 x1 - 2 x2 + 0.5 x3 + effect(c) + noise(0.3); returns (data set, std of y)."""
    from tuner.tabular.data.convert import ConvertOptions, convert

    rng = np.random.default_rng(11)
    rows = 3000
    x = rng.normal(size=(rows, 3))
    x[:, 2] = x[:, 2] * 4 + 10  # an unnormalized column: the model normalizes it
    c = rng.choice(["red", "green", "blue"], size=rows)
    effect = {"red": -1.0, "green": 0.0, "blue": 1.5}
    y = 2 + 3 * x[:, 0] - 2 * x[:, 1] + 0.5 * (x[:, 2] - 10) + np.array([effect[v] for v in c])
    y += rng.normal(0, 0.3, rows)
    root = tmp_path_factory.mktemp("regression")
    lines = ["x1,x2,x3,color,y"]
    lines += [
        f"{a:.5f},{b:.5f},{d:.5f},{e},{t:.5f}" for (a, b, d), e, t in zip(x, c, y, strict=True)
    ]
    write(root / "planted.csv", "\n".join(lines) + "\n")
    convert(root / "planted.csv", root / "ds", ConvertOptions(split=0.2, seed=0))
    return root / "ds", float(np.std(y))


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_regression_planted_linear_function(planted_regression, tmp_path):
    data, label_std = planted_regression
    config = {
        "dataset": str(data),
        "model": "dnn",
        "hidden_units": [16],
        "optimizer": "adam",
        "learning_rate": 0.02,
        "batch_size": 32,
        "epochs": 3,
    }
    _, reports = _train(config, tmp_path)
    rmse = [m["val_rmse"] for _, m in reports]
    print(f"regression: val_rmse {rmse}, label std {label_std:.3f}")
    assert {"rmse", "mae", "val_mae"} <= set(reports[-1][1])
    assert "val_accuracy" not in reports[-1][1]
    assert rmse[-1] < 0.15 * label_std, (rmse, label_std)  # noise alone is 0.3 / 4.2
    assert reports[-1][1]["loss"] < reports[0][1]["loss"]
    from tuner.tabular.data.schema import load_schema

    train_std = load_schema(data).label.std  # the loss is that of the standardized label
    assert reports[-1][1]["val_loss"] == pytest.approx((rmse[-1] / train_std) ** 2, rel=1e-3)


# ---------------------------------------------------------------- LIBSVM, dimension 2^20


@pytest.fixture(scope="module")
def wide_libsvm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4,000 + 1,000 rows, ids spread over [1, 2^20]: 3 of 40 informative ids (weights
    ±2) plus 12 random ones per row; the label is the sign of the informative sum."""
    from tuner.tabular.data.convert import ConvertOptions, convert

    rng = np.random.default_rng(3)
    informative = rng.choice(np.arange(1, DIMENSION + 1), size=40, replace=False)
    weight = dict(zip(informative.tolist(), rng.choice([-2.0, 2.0], size=40), strict=True))

    def lines(rows: int) -> list[str]:
        out = []
        for r in range(rows):
            ids = set(rng.choice(informative, size=3, replace=False).tolist())
            score = sum(weight[i] for i in ids) + rng.normal(0, 0.5)
            ids |= set(rng.integers(1, DIMENSION + 1, size=12).tolist())
            if r == 0:
                ids |= {1, DIMENSION}  # both ends of the id range
            tokens = [
                f"{i}:{rng.uniform(0.5, 1.5) if i not in weight else 1.0:.3f}" for i in sorted(ids)
            ]
            out.append(f"{int(score > 0)} " + " ".join(tokens))
        return out

    root = tmp_path_factory.mktemp("libsvm")
    write(root / "train.libsvm", "\n".join(lines(4000)) + "\n")
    write(root / "test.libsvm", "\n".join(lines(1000)) + "\n")
    convert(
        root / "train.libsvm",
        root / "ds",
        ConvertOptions(validation=root / "test.libsvm", dimension=DIMENSION),
    )
    return root / "ds"


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class PeakRSS:
    """Peak resident memory above the level at entry, sampled every few milliseconds."""

    def __init__(self) -> None:
        self.base = self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss())

    def __enter__(self) -> PeakRSS:
        self.base = self.peak = _rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())

    @property
    def growth(self) -> int:
        return self.peak - self.base


BATCH = 256
DENSE_INPUT = BATCH * DIMENSION * 4  # one densified batch: 1 GiB
MEMORY_LIMIT = 500 * MB


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    ("model", "extra", "min_auc"),
    [
        ("linear", {"optimizer": "adam", "learning_rate": 0.05}, 0.9),
        ("dnn", {"hidden_units": [8], "optimizer": "adam", "learning_rate": 0.01}, 0.75),
    ],
)
def test_libsvm_dimension_2_20_trains_with_bounded_memory(
    wide_libsvm, tmp_path, model, extra, min_auc, record_property
):
    from tuner.tabular.data import reader
    from tuner.tabular.data.schema import load_schema

    feature = load_schema(wide_libsvm).feature("features")
    assert (feature.kind, feature.dimension) == ("sparse", DIMENSION)
    batch, _ = next(iter(reader.dataset(wide_libsvm, batch_size=4, shuffle=False)))
    assert batch["features"].dense_shape.numpy().tolist() == [4, DIMENSION]  # sparse input

    config = {"dataset": str(wide_libsvm), "model": model, "batch_size": BATCH, "epochs": 3}
    with PeakRSS() as memory:
        payload, reports = _train({**config, **extra}, tmp_path)
    record_property("rss_growth_mb", round(memory.growth / MB, 1))
    print(f"{model}: RSS grew {memory.growth / MB:.0f} MB, history {payload['history']}")
    assert memory.growth < MEMORY_LIMIT < DENSE_INPUT, f"{memory.growth / MB:.0f} MB"
    losses = [m["loss"] for _, m in reports]
    assert losses[-1] < losses[0], losses
    assert reports[-1][1]["val_auc"] >= min_auc, reports[-1][1]
