"""Decision trees and random forests: dljax.classic.tree / forest against scikit-learn, in one run.

Per row: test quality (accuracy, or R² for diabetes) of both on dljax's fixed splits, fit time (dljax:
the first call, which compiles, is reported as compile_s; then the median of `--repeats` calls with
`.block_until_ready()`, alternating with as many sklearn fits), and for digits the prediction
time on 100,000 rows (test rows resampled) for the tree and the forest. Both libraries get the same numpy
array; the verdict is on dljax_predict_s, dljax's jitted predict applied to it in 4 MB row chunks
(dljax.classic.streaming.predict_in_chunks: JAX's copy of each chunk to the device overlaps the previous
chunk's compute). dljax_whole_predict_s is one jitted call on the whole numpy array (it includes JAX's copy
of the 25.6 MB, unaligned so never aliased) and dljax_device_predict_s one call on rows already on the device.
Depth is finite in dljax (trees are stored complete) and unlimited in sklearn; everything else is sklearn's
default, but n_jobs.

Threads (benchmarks/_timing.py): XLA runs on all the process's cores (2 here), and so do sklearn's forests,
fit and predict (n_jobs = the core count; it was 1 before 2026-12-03, so the ratios measured before that date
below set two threads against one); a single sklearn tree has no n_jobs and runs on one thread. Every time is
measured as wall time and as the process's CPU time (all threads) around the same calls: time_ratio /
predict_ratio are wall-time ratios (the verdicts), cpu_ratio / predict_cpu_ratio CPU-time ratios. The row
"forest (hist, 32 bins)" runs dljax's approximate histogram search (splitter="hist": breast_cancer's
features have ~400 distinct values each, binned at 32 quantiles); the other rows use the default exact
search, which has sklearn's candidates (digits: a bin per pixel value 0..16; breast_cancer: a bin per
value, 426 bins; diabetes: the sorted search). Each row ends with the
verdict against issue 3's targets: quality >= sklearn - 0.005, fit <= 2x, prediction faster than sklearn.

A forest's test score moves by about ±0.008 between seeds on digits (sklearn's, seeds 0-4: 0.967-0.982),
and the two libraries cannot share a random stream, so forest quality is the mean over `--seeds` seeds
for both (seed_min/seed_max give the spread); a tree's splits are deterministic up to ties, one seed.

Run:  python benchmarks/classic_tree.py            (--repeats 5 --seeds 5)

Measured 2026-11-25 (second session), 2 CPU cores, idle, the last three to five runs: fit ratio
dljax/sklearn: tree digits 1.32-1.68, forest digits 1.24-1.33, breast_cancer 0.61-0.72 (exact: a bin per
value) and 0.24-0.25 (hist, 32 bins), diabetes 1.38-1.41; quality diff vs sklearn: +0.013, -0.0044, +0.0056,
+0.0042, -0.0019; prediction on 100k rows from numpy (chunked; four runs in the fourth session): tree 0.74-0.81x (one
jitted call on the whole array: 1.01-1.59x), forest 0.47-0.63x.
Re-measured 2026-12-02 on a fresh machine (scikit-learn 1.9.1), two runs: tree fit 1.42-1.53x, digits forest
1.24-1.39x, breast_cancer 0.61 / 0.27 (hist), diabetes 1.37x; prediction (chunked) tree 0.83-0.89x, forest 0.59-0.64x.
All of the above with sklearn's forests on n_jobs=1 (two threads against one); not yet re-measured idle with n_jobs=2.
The digits forest's 5-seed gap (-0.0044) is seed noise: over seeds 0-49 dljax's mean is 0.9736 ± 0.0006
(standard error) and sklearn's 0.9730 ± 0.0007; per-tree test accuracy (400 trees) 0.7627 vs 0.7629.
"""

import argparse
import functools
import os
import statistics
import sys

import jax
import numpy as np
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.metrics import r2_score
from sklearn.tree import DecisionTreeClassifier

from dljax.classic import forest, tree
from dljax.classic.streaming import predict_in_chunks
from dljax.data.sources import load_dataset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import CORES, peer_threads, threads_line, timed  # noqa: E402

PREDICT_ROWS = 100_000
PREDICT_REPEATS = 15  # a tree's prediction takes milliseconds: more repeats than fits for a steady median
# Issue 3's targets: quality >= sklearn's - 0.005, fit time <= 2x sklearn's, prediction faster than sklearn's.
QUALITY_TOLERANCE = 0.005
FIT_RATIO_TARGET = 2.0
# (learner, dataset, dljax module, config overrides, sklearn estimator)
# sklearn's forests fit and predict on as many threads as XLA has (n_jobs); its single tree has no n_jobs.
CASES = [
    ("tree", "digits", tree, dict(max_depth=14), lambda: DecisionTreeClassifier(random_state=0)),
    ("forest", "digits", forest, dict(max_depth=14), lambda: RandomForestClassifier(random_state=0, n_jobs=CORES)),
    ("forest", "breast_cancer", forest, dict(max_depth=12),
     lambda: RandomForestClassifier(random_state=0, n_jobs=CORES)),
    ("forest (hist, 32 bins)", "breast_cancer", forest, dict(max_depth=12, splitter="hist"),
     lambda: RandomForestClassifier(random_state=0, n_jobs=CORES)),
    ("forest", "diabetes", forest, dict(max_depth=14, task="regression"),
     lambda: RandomForestRegressor(random_state=0, n_jobs=CORES)),
]
THREADS = threads_line(f"scikit-learn forests n_jobs={CORES} (fit and predict), its single tree 1 (no n_jobs), "
                       f"BLAS and OpenMP pools {CORES}")


def _quality(task, y, pred):
  return float(np.mean(pred == y)) if task == "classification" else float(r2_score(y, pred))


def rows(repeats: int = 5, seeds: int = 5) -> list[dict]:
  with peer_threads():
    return _rows(repeats, seeds)


def _rows(repeats: int, seeds: int) -> list[dict]:
  out = []
  for learner, name, module, overrides, make_sk in CASES:
    d = load_dataset(name)
    x, y = d.train_x.reshape(len(d.train_x), -1), d.train_y
    x_test, y_test = d.test_x.reshape(len(d.test_x), -1), d.test_y
    config = module.default_config(num_classes=d.num_classes, **overrides)
    module.check_inputs(x, y, config)
    fit = jax.jit(functools.partial(module.fit, config=config))
    predict = jax.jit(module.predict)
    params, first, _ = timed(lambda: jax.block_until_ready(fit(jax.random.key(0), x, y)))
    times, sk_times, cpus, sk_cpus = [], [], [], []
    for _ in range(repeats):  # alternating, so both see the same load
      _, wall, cpu = timed(lambda: jax.block_until_ready(fit(jax.random.key(0), x, y)))
      times.append(wall)
      cpus.append(cpu)
      sk, wall, cpu = timed(lambda: make_sk().fit(x, y))
      sk_times.append(wall)
      sk_cpus.append(cpu)
    fit_s, fit_cpu_s, sk_cpu_s = statistics.median(times), statistics.median(cpus), statistics.median(sk_cpus)
    quality = _quality(config.task, y_test, np.asarray(predict(params, x_test)))
    num_seeds = seeds if learner.startswith("forest") else 1
    qualities = [quality] + [_quality(config.task, y_test, np.asarray(predict(fit(jax.random.key(s), x, y), x_test)))
                             for s in range(1, num_seeds)]
    sk_qualities = [_quality(config.task, y_test, make_sk().set_params(random_state=s).fit(x, y).predict(x_test))
                    for s in range(num_seeds)]
    quality, sk_quality = float(np.mean(qualities)), float(np.mean(sk_qualities))
    row = dict(learner=learner, dataset=name, metric="accuracy" if config.task == "classification" else "R2",
               seeds=num_seeds, dljax=quality, sklearn=sk_quality, quality_diff=quality - sk_quality,
               dljax_seed_range=f"{min(qualities):.4f}-{max(qualities):.4f}",
               sklearn_seed_range=f"{min(sk_qualities):.4f}-{max(sk_qualities):.4f}",
               dljax_fit_s=fit_s, sklearn_fit_s=statistics.median(sk_times),
               time_ratio=fit_s / statistics.median(sk_times), dljax_fit_cpu_s=fit_cpu_s,
               sklearn_fit_cpu_s=sk_cpu_s, cpu_ratio=fit_cpu_s / sk_cpu_s, compile_s=first - fit_s)
    if name == "digits":
      big = x_test[np.random.RandomState(0).randint(0, len(x_test), PREDICT_ROWS)]
      big_on_device = jax.device_put(big)
      # The verdict: the numpy array in row chunks (dljax.classic.streaming), as a user predicts on host
      # rows; also one jitted call on the whole numpy array, and on rows already on the device.
      ways = {"dljax_predict_s": lambda: predict_in_chunks(predict, params, big),
              "dljax_whole_predict_s": lambda: predict(params, big),
              "dljax_device_predict_s": lambda: predict(params, big_on_device)}
      for way in ways.values():
        jax.block_until_ready(way())
      ours, ours_cpu, sk_pred, sk_pred_cpu = {name: [] for name in ways}, {name: [] for name in ways}, [], []
      for _ in range(max(repeats, PREDICT_REPEATS)):
        for name, way in ways.items():  # sklearn's predict before each: caches as cold for both
          _, wall, cpu = timed(lambda: sk.predict(big))
          sk_pred.append(wall)
          sk_pred_cpu.append(cpu)
          _, wall, cpu = timed(lambda: jax.block_until_ready(way()))
          ours[name].append(wall)
          ours_cpu[name].append(cpu)
      row.update({name: statistics.median(times) for name, times in ours.items()})
      row["sklearn_predict_s"] = statistics.median(sk_pred)
      row["predict_ratio"] = row["dljax_predict_s"] / row["sklearn_predict_s"]
      row["dljax_predict_cpu_s"] = statistics.median(ours_cpu["dljax_predict_s"])
      row["sklearn_predict_cpu_s"] = statistics.median(sk_pred_cpu)
      row["predict_cpu_ratio"] = row["dljax_predict_cpu_s"] / row["sklearn_predict_cpu_s"]
    row["quality_ok"] = "yes" if row["quality_diff"] >= -QUALITY_TOLERANCE else "NO"
    row["fit_ok"] = "yes" if row["time_ratio"] <= FIT_RATIO_TARGET else "NO"
    if "predict_ratio" in row:
      row["predict_ok"] = "yes" if row["predict_ratio"] < 1.0 else "NO"
    out.append(row)
  return out


def markdown(table: list[dict]) -> str:
  keys = ["learner", "dataset", "metric", "seeds", "dljax", "sklearn", "quality_diff", "dljax_seed_range",
          "sklearn_seed_range", "dljax_fit_s", "sklearn_fit_s", "time_ratio", "dljax_fit_cpu_s", "sklearn_fit_cpu_s",
          "cpu_ratio", "compile_s", "dljax_predict_s", "sklearn_predict_s", "predict_ratio", "dljax_predict_cpu_s",
          "sklearn_predict_cpu_s", "predict_cpu_ratio", "dljax_whole_predict_s", "dljax_device_predict_s",
          "quality_ok", "fit_ok", "predict_ok"]
  fmt = lambda v: "" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))
  lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
  lines += ["| " + " | ".join(fmt(r.get(k)) for k in keys) + " |" for r in table]
  return "\n".join(lines)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--seeds", type=int, default=5, help="forest quality: mean over this many seeds")
  args = parser.parse_args(argv)
  print(THREADS)
  print(markdown(rows(args.repeats, args.seeds)))
  print(f"\nreproduce: python benchmarks/classic_tree.py --repeats {args.repeats} --seeds {args.seeds}   "
        f"(jax {jax.__version__}, {jax.device_count()} {jax.devices()[0].platform} device(s))")


if __name__ == "__main__":
  sys.exit(main())
