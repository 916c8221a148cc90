"""Linear, polynomial-ridge and logistic regression: dljax.classic against scikit-learn, in ONE run.

For each learner, on the splits of `dljax.data.sources.load_dataset(name)`, both libraries fit the same
objective on the same float32 values (sklearn in float64, as it casts them):
  * linear      least squares on diabetes                      (sklearn LinearRegression)      test R²
  * polynomial  degree-2 expansion + ridge α=100 on diabetes,
                inputs standardised with train statistics       (PolynomialFeatures + Ridge)    test R²
  * logistic    C=1 on breast_cancer (standardised) and on digits (pixels/16, flattened), both solved to
                the optimum: sklearn with tol=1e-8, max_iter=10000 (lbfgs; multinomial for digits)
                                                                                                test accuracy
    plus, for reference, sklearn at its default tol=1e-4 (it stops earlier, off the optimum).

Fit time: dljax is `jax.jit(functools.partial(fit, config=config))`; its first call (trace + compile +
run) is reported as compile_s, then fit_s is the median of later calls on the same shapes, each ended
with `.block_until_ready()`; inputs are placed on the device once, beforehand. sklearn's fit_s is the
median of as many `.fit` calls: `repeats` each, or more for fast fits (up to ~1 s each, at most 100).
The timed calls of the two alternate (round robin), so a slow-down from other processes on the machine
hits both alike. time_ratio = dljax_fit_s / sklearn_fit_s, the ratio of wall times; cpu_ratio the same
for the process's CPU time (all threads) around the same calls (medians of each).

Threads (benchmarks/_timing.py): XLA runs on all the process's cores (2 here) and sklearn's BLAS (OpenBLAS)
and OpenMP pools on `blas_threads`, by default as many. Until 2026-12-03 the default was one BLAS thread
(`--blas-threads 1`): on a small shared machine OpenBLAS's spinning threads, fighting XLA's and other jobs'
for the cores, had made sklearn's fits up to ~10× slower than with one, but it set XLA's two threads against
one. --blas-threads 0: sklearn's own default (all cores).
Measured 2026-12-03 on the 2 shared cores (load 5-7 from other jobs): with 2 BLAS threads sklearn's logistic
fit on digits took 30-32 s (CPU 20-21 s) against 0.36 s with one (the same ~280 L-BFGS iterations; also without
any JAX work in the process: 3.6-15 s against 0.34 s): OpenBLAS's threads spin for the cores on every small
product. time_ratio 0.003-0.004 there, against 0.20 with --blas-threads 1 in the same hour.

Run:  python benchmarks/classic_linear.py [--repeats 7] [--blas-threads 2]
"""

import argparse
import functools
import os
import statistics
import sys

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures

from dljax.classic import linear, logistic, polynomial
from dljax.data.sources import load_dataset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import CORES, peer_threads, threads_line, timed  # noqa: E402

POLY_ALPHA = 100.0
COLUMNS = ("learner", "dataset", "metric", "dljax", "sklearn", "quality_diff", "dljax_fit_s", "sklearn_fit_s",
           "time_ratio", "dljax_fit_cpu_s", "sklearn_fit_cpu_s", "cpu_ratio", "compile_s")


def _standardised(train_x, test_x):
  mean, std = train_x.mean(0), train_x.std(0)
  std = np.where(std > 0, std, 1.0)
  return ((train_x - mean) / std).astype(np.float32), ((test_x - mean) / std).astype(np.float32)


def _flat(x):
  return x.reshape(len(x), -1).astype(np.float32)


def _r2(y, y_pred):
  y, y_pred = np.asarray(y, np.float64), np.asarray(y_pred, np.float64)
  return 1.0 - np.sum((y - y_pred)**2) / np.sum((y - y.mean())**2)


def _accuracy(y, y_pred):
  return float(np.mean(np.asarray(y_pred) == np.asarray(y)))


def _timed(fn):
  """(wall seconds, CPU seconds, fn's result) of one call."""
  out, wall, cpu = timed(fn)
  return wall, cpu, out


def threads(blas_threads: int = CORES) -> str:
  return threads_line(f"scikit-learn BLAS and OpenMP pools {blas_threads or 'at their default'}")


def _compare(learner, dataset, module, config, make_sklearn, x_train, y_train, x_test, y_test, repeats):
  """One row: quality on the test split and fit times of dljax (compiled once) and sklearn."""
  module.check_inputs(x_train, y_train, config)
  fit = jax.jit(functools.partial(module.fit, config=config))
  key = jax.random.key(0)
  xd, yd = jax.device_put(x_train), jax.device_put(y_train)
  compile_s, _, params = _timed(lambda: jax.block_until_ready(fit(key, xd, yd)))
  x64 = x_train.astype(np.float64)
  # Fast fits get more calls (up to ~1 s of each), so the median is not at the mercy of one busy moment.
  probe = max(_timed(lambda: jax.block_until_ready(fit(key, xd, yd)))[0],
              _timed(lambda: make_sklearn().fit(x64, y_train))[0])
  calls = min(max(repeats, int(1.0 / probe)), 100)
  ours, theirs, ours_cpu, theirs_cpu = [], [], [], []
  for _ in range(calls):  # round robin: both see the same machine load
    t, cpu, params = _timed(lambda: jax.block_until_ready(fit(key, xd, yd)))
    ours.append(t)
    ours_cpu.append(cpu)
    t, cpu, model = _timed(lambda: make_sklearn().fit(x64, y_train))
    theirs.append(t)
    theirs_cpu.append(cpu)
  metric, score = ("R²", _r2) if module.TASK == "regression" else ("accuracy", _accuracy)
  q_ours = score(y_test, jax.jit(module.predict)(params, jnp.asarray(x_test)))
  q_theirs = score(y_test, model.predict(x_test.astype(np.float64)))
  ours_s, theirs_s = statistics.median(ours), statistics.median(theirs)
  ours_cpu_s, theirs_cpu_s = statistics.median(ours_cpu), statistics.median(theirs_cpu)
  return dict(learner=learner, dataset=dataset, metric=metric, dljax=q_ours, sklearn=q_theirs,
              quality_diff=q_ours - q_theirs, dljax_fit_s=ours_s, sklearn_fit_s=theirs_s,
              time_ratio=ours_s / theirs_s, dljax_fit_cpu_s=ours_cpu_s, sklearn_fit_cpu_s=theirs_cpu_s,
              cpu_ratio=ours_cpu_s / theirs_cpu_s, compile_s=compile_s)


def rows(repeats: int = 7, blas_threads: int = CORES) -> list[dict]:
  """One dict per (learner, dataset), keys COLUMNS (see the module docstring)."""
  with peer_threads(blas_threads or None):
    return _rows(repeats)


def _rows(repeats: int) -> list[dict]:
  out = []
  diabetes = load_dataset("diabetes")
  out.append(_compare("linear (least squares)", "diabetes", linear, linear.default_config(), LinearRegression,
                      diabetes.train_x, diabetes.train_y, diabetes.test_x, diabetes.test_y, repeats))

  x_train, x_test = _standardised(diabetes.train_x, diabetes.test_x)
  out.append(_compare(
      f"polynomial (degree 2, ridge α={POLY_ALPHA:g})", "diabetes", polynomial,
      polynomial.default_config(degree=2, alpha=POLY_ALPHA),
      lambda: make_pipeline(PolynomialFeatures(2, include_bias=False), Ridge(alpha=POLY_ALPHA)),
      x_train, diabetes.train_y, x_test, diabetes.test_y, repeats))

  for name in ("breast_cancer", "digits"):
    data = load_dataset(name)
    if name == "digits":  # already pixels/16 in [0, 1]
      x_train, x_test = _flat(data.train_x), _flat(data.test_x)
    else:
      x_train, x_test = _standardised(data.train_x, data.test_x)
    config = logistic.default_config(num_classes=data.num_classes, C=1.0)
    for label, sklearn_tol in (("", 1e-8), (" vs sklearn default tol=1e-4", 1e-4)):
      out.append(_compare(
          f"logistic (C=1){label}", name, logistic, config,
          lambda tol=sklearn_tol: LogisticRegression(C=1.0, tol=tol, max_iter=10000),
          x_train, data.train_y, x_test, data.test_y, repeats))
  return out


def markdown(table: list[dict]) -> str:
  def cell(v):
    return f"{v:.4g}" if isinstance(v, float) else str(v)
  lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
  lines += ["| " + " | ".join(cell(row[c]) for c in COLUMNS) + " |" for row in table]
  return "\n".join(lines)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--repeats", type=int, default=7, help="least timed fits per library (median reported)")
  parser.add_argument("--blas-threads", type=int, default=CORES,
                      help="threads for sklearn's BLAS and OpenMP pools (default: as many as XLA's, the core "
                           "count); 0 = their default")
  args = parser.parse_args()
  print(threads(args.blas_threads))
  table = rows(args.repeats, args.blas_threads)
  print(markdown(table))
  print(f"\nquality target dljax >= sklearn - 0.005: "
        f"{'met' if all(r['quality_diff'] >= -0.005 for r in table) else 'MISSED'}; "
        f"fit time target <= 2x sklearn: {'met' if all(r['time_ratio'] <= 2 for r in table) else 'MISSED'}")
  print(f"jax {jax.__version__} on {jax.devices()[0].platform}; "
        f"reproduce: python benchmarks/classic_linear.py --repeats {args.repeats} "
        f"--blas-threads {args.blas_threads}")


if __name__ == "__main__":
  main()
