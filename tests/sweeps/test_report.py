"""`dljax report`: statistics against numpy and an exact bootstrap, the files, and provenance checks."""

import csv
import itertools
import json
import os

import numpy as np
import pytest

from dljax.errors import UserError
from dljax.sweeps import report

VERSIONS = {"jax": "0.10.2", "jaxlib": "0.10.2", "flax": "0.12.0", "optax": "0.2.6"}


def _fake_run(root, name, *, lr, depth, seed, accuracy, loss, versions=VERSIONS, commit="abc123"):
  """A finished run's files as `dljax run` writes them (config.json, summary.json, metrics.jsonl)."""
  d = os.path.join(root, name)
  os.makedirs(d)
  config = {"experiment": "x", "seed": seed, "batch_size": 16, "optimizer": {"learning_rate": lr},
            "model": {"depth": depth, "hidden": [8, 8]}}
  json.dump({"config": config, "seed": seed, "versions": versions, "git_commit": commit},
            open(os.path.join(d, "config.json"), "w"))
  json.dump({"status": "done", "metrics": {"accuracy": accuracy, "loss": loss}, "steps": 2},
            open(os.path.join(d, "summary.json"), "w"))
  with open(os.path.join(d, "metrics.jsonl"), "w") as f:
    for step in (1, 2):
      f.write(json.dumps({"step": step, "split": "train", "time": 0.0, "loss": loss + 1.0 / step}) + "\n")
  return d


def _sweep_dir(tmp_path, **kwargs):
  rng = np.random.RandomState(0)
  values = {}
  for lr, depth in itertools.product((0.001, 0.01), (2, 4)):
    accs = rng.uniform(0.8, 0.99, size=4)
    values[(lr, depth)] = accs
    for seed, acc in enumerate(accs):
      _fake_run(str(tmp_path), f"lr={lr},depth={depth}/seed={seed}", lr=lr, depth=depth, seed=seed,
                accuracy=float(acc), loss=float(1 - acc), **kwargs)
  return values


def test_csv_mean_std_and_ci_match_numpy(tmp_path):
  values = _sweep_dir(tmp_path)
  result = report.report(str(tmp_path), x_key="optimizer.learning_rate")
  assert result["keys"] == ["model.depth", "optimizer.learning_rate"]
  rows = list(csv.DictReader(open(tmp_path / "results.csv")))
  assert len(rows) == 4
  for row in rows:
    accs = values[(float(row["optimizer.learning_rate"]), int(row["model.depth"]))]
    assert int(row["n"]) == 4
    np.testing.assert_allclose(float(row["accuracy_mean"]), accs.mean(), rtol=1e-12)
    np.testing.assert_allclose(float(row["accuracy_std"]), np.std(accs, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(float(row["loss_mean"]), (1 - accs).mean(), rtol=1e-9)
    low, high = float(row["accuracy_ci_low"]), float(row["accuracy_ci_high"])
    assert accs.min() <= low < accs.mean() < high <= accs.max()
  for name in ("results.md", "bars_accuracy.png", "bars_loss.png", "curves_loss.png", "accuracy_vs_learning_rate.png"):
    assert (tmp_path / name).exists(), name
  assert (tmp_path / "bars_accuracy.png").read_bytes()[:4] == b"\x89PNG"
  md = (tmp_path / "results.md").read_text()
  assert "package versions: identical in all 16 runs" in md and "git commit: identical" in md
  assert "| 2 | 0.001 | 4 |" in md


def test_bootstrap_ci_matches_the_exact_bootstrap_distribution():
  # For n values there are n**n equally likely resamples: their means' quantiles are the exact
  # percentile interval the Monte Carlo bootstrap estimates.
  values = np.array([0.81, 0.86, 0.9, 0.97, 0.99])
  exact = np.array([values[list(idx)].mean() for idx in itertools.product(range(5), repeat=5)])
  low, high = report.bootstrap_ci(values, resamples=200_000)
  np.testing.assert_allclose([low, high], np.quantile(exact, [0.025, 0.975]), atol=0.004)
  assert report.bootstrap_ci([0.5]) == (0.5, 0.5)
  assert report.bootstrap_ci(values) == report.bootstrap_ci(values)  # fixed seed: reports are reproducible


def test_report_flags_runs_that_differ_in_versions_or_commit(tmp_path):
  _fake_run(str(tmp_path), "a/seed=0", lr=0.1, depth=2, seed=0, accuracy=0.9, loss=0.1)
  _fake_run(str(tmp_path), "a/seed=1", lr=0.1, depth=2, seed=1, accuracy=0.8, loss=0.2,
            versions={**VERSIONS, "jax": "0.9.0"}, commit="def456")
  _fake_run(str(tmp_path), "a/seed=2", lr=0.1, depth=2, seed=1, accuracy=0.7, loss=0.3)
  report.report(str(tmp_path))
  md = (tmp_path / "results.md").read_text()
  assert "**package versions differ**" in md and "jax 0.9.0" in md
  assert "**git commit differ**" in md and "def456" in md
  assert "**repeated seeds**" in md
  assert "settings differ in: nothing (one setting)" in md


def test_unfinished_runs_are_left_out_and_an_empty_dir_is_an_error(tmp_path):
  d = _fake_run(str(tmp_path), "a/seed=0", lr=0.1, depth=2, seed=0, accuracy=0.9, loss=0.1)
  json.dump({"status": "paused", "steps": 1}, open(os.path.join(d, "summary.json"), "w"))
  with pytest.raises(UserError, match="no finished runs"):
    report.report(str(tmp_path))
  with pytest.raises(UserError, match="not a directory"):
    report.report(str(tmp_path / "absent"))
