"""Every classical-learner experiment through the same loop, on a slice of its real data."""

import json
import os

import numpy as np
import pytest

from dljax import config as config_lib
from dljax import registry
from dljax.train import loop

CLASSIC = [e.name for e in registry.all_experiments() if registry.get_config(e.name).trainer == "classic"]


def _small(name):
  overrides = ["data.max_train=150", "data.max_test=60"]
  model = registry.get_config(name).model
  if "n_estimators" in model:
    overrides.append("model.n_estimators=8")
  return config_lib.apply_overrides(registry.get_config(name), overrides)


@pytest.mark.parametrize("name", CLASSIC)
def test_classic_experiment_fits_once_and_writes_its_workdir(name, tmp_path):
  summary = loop.train_and_evaluate(_small(name), str(tmp_path))
  assert summary["status"] == "done" and summary["steps"] == 1
  metrics = json.load(open(tmp_path / "summary.json"))["metrics"]
  if "accuracy" in metrics:
    assert 0.5 < metrics["accuracy"] <= 1.0
  else:
    assert np.isfinite(metrics["mse"]) and metrics["r2"] > -1.0
  assert os.listdir(tmp_path / "checkpoints") == ["1"]
  # Running again restores the fitted parameters and reports the same metrics without refitting.
  again = loop.train_and_evaluate(_small(name), str(tmp_path))
  assert again["metrics"] == summary["metrics"]
