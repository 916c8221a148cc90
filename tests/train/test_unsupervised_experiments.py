"""The k-means and PCA experiments through the foundation's loop on slices of their data (Fashion-MNIST's:
the stand-in tests/conftest.py writes), with the numbers the trainer records checked against
scikit-learn / numpy on the same rows."""

import json

import numpy as np
import pytest
from sklearn.decomposition import PCA

from dljax import config as config_lib
from dljax import registry
from dljax.data import sources
from dljax.errors import UserError
from dljax.train import loop

NAMES = ["digits_kmeans", "digits_pca", "fashion_mnist_kmeans", "fashion_mnist_pca"]


def _small(name, *extra):
  overrides = ["data.max_train=300", "data.max_test=100"]
  return config_lib.apply_overrides(registry.get_config(name), overrides + list(extra))


def test_registered_and_typed():
  for name in NAMES:
    config = registry.get_config(name)
    assert config.trainer == "unsupervised" and config.learner in ("kmeans", "pca")


@pytest.mark.parametrize("name", NAMES)
def test_fits_once_writes_summary_and_resumes(name, tmp_path):
  config = _small(name)
  summary = loop.train_and_evaluate(config, str(tmp_path))
  assert summary["status"] == "done" and summary["steps"] == 1
  metrics = json.load(open(tmp_path / "summary.json"))["metrics"]
  if name.endswith("kmeans"):  # several k-means++ starts on each side: both reach the best few minima
    assert metrics["inertia"] <= 1.01 * metrics["sklearn_inertia"]
    assert -1.0 <= metrics["adjusted_rand"] <= 1.0 and metrics["adjusted_rand"] > 0.3
    assert "sklearn_adjusted_rand" in metrics and metrics["test_inertia"] > 0
  else:
    # Same rows, same components: ours equals sklearn's (float32 vs float64 rounding only).
    assert abs(metrics["explained_variance_ratio"] - metrics["sklearn_explained_variance_ratio"]) < 1e-5
    assert metrics["explained_variance_max_rel_diff"] < 1e-5
    x = sources.load_dataset(config.data.source, max_train=300).train_x.reshape(300, -1).astype(np.float64)
    ref = PCA(config.model.n_components, svd_solver="full").fit(x)  # "auto" is randomized for 784 pixels
    mse = np.mean((x - ref.inverse_transform(ref.transform(x))) ** 2)
    assert abs(metrics["reconstruction_mse"] - mse) < 1e-5 * mse + 1e-7
  again = loop.train_and_evaluate(_small(name), str(tmp_path))  # restored, not refitted
  assert again["metrics"]["inertia" if name.endswith("kmeans") else "explained_variance_ratio"] == \
      summary["metrics"]["inertia" if name.endswith("kmeans") else "explained_variance_ratio"]


@pytest.mark.parametrize("name, override, message", [
    ("digits_kmeans", "model.n_clusters=400", "n_clusters=400: give 1..300"),
    ("digits_pca", "model.n_components=65", "n_components=65: give 1..64"),
])
def test_bad_hyper_parameters_are_user_errors(name, override, message, tmp_path):
  with pytest.raises(UserError, match=message):
    loop.train_and_evaluate(_small(name, override), str(tmp_path))
