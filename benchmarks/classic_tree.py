"""Decision trees and random forests: dljax.classic.tree / forest against scikit-learn, in one run.

Per row: test quality (accuracy, or R² for diabetes) of both on dljax's fixed splits, fit time (dljax:
the first call, which compiles, is reported as compile_s; then the median of `--repeats` calls with
`.block_until_ready()`; sklearn: the median of as many fits, n_jobs=1), and for digits the prediction
time on 100,000 rows (test rows resampled) for the tree and the forest. Depth is finite in dljax (trees
are stored complete) and unlimited in sklearn; everything else is sklearn's default.

A forest's test score moves by about ±0.008 between seeds on digits (sklearn's, seeds 0-4: 0.967-0.982),
and the two libraries cannot share a random stream, so forest quality is the mean over `--seeds` seeds
for both (seed_min/seed_max give the spread); a tree's splits are deterministic up to ties, one seed.

Run:  python benchmarks/classic_tree.py            (--repeats 3 --seeds 5)
"""

import argparse
import functools
import statistics
import sys
import time

import jax
import numpy as np
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.metrics import r2_score
from sklearn.tree import DecisionTreeClassifier

from dljax.classic import forest, tree
from dljax.data.sources import load_dataset

PREDICT_ROWS = 100_000
# (learner, dataset, dljax module, config overrides, sklearn estimator)
CASES = [
    ("tree", "digits", tree, dict(max_depth=14), lambda: DecisionTreeClassifier(random_state=0)),
    ("forest", "digits", forest, dict(max_depth=14), lambda: RandomForestClassifier(random_state=0)),
    ("forest", "breast_cancer", forest, dict(max_depth=12), lambda: RandomForestClassifier(random_state=0)),
    ("forest", "diabetes", forest, dict(max_depth=14, task="regression"), lambda: RandomForestRegressor(random_state=0)),
]


def _timed(f, repeats):
  """(result of the first call, its seconds, median seconds of `repeats` further calls)."""
  start = time.perf_counter()
  out = jax.block_until_ready(f())
  first = time.perf_counter() - start
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(f())
    times.append(time.perf_counter() - start)
  return out, first, statistics.median(times)


def _quality(task, y, pred):
  return float(np.mean(pred == y)) if task == "classification" else float(r2_score(y, pred))


def rows(repeats: int = 3, seeds: int = 5) -> list[dict]:
  out = []
  for learner, name, module, overrides, make_sk in CASES:
    d = load_dataset(name)
    x, y = d.train_x.reshape(len(d.train_x), -1), d.train_y
    x_test, y_test = d.test_x.reshape(len(d.test_x), -1), d.test_y
    config = module.default_config(num_classes=d.num_classes, **overrides)
    module.check_inputs(x, y, config)
    fit = jax.jit(functools.partial(module.fit, config=config))
    predict = jax.jit(module.predict)
    params, first, fit_s = _timed(lambda: fit(jax.random.key(0), x, y), repeats)
    quality = _quality(config.task, y_test, np.asarray(predict(params, x_test)))
    num_seeds = seeds if learner == "forest" else 1
    qualities = [quality] + [_quality(config.task, y_test, np.asarray(predict(fit(jax.random.key(s), x, y), x_test)))
                             for s in range(1, num_seeds)]

    sk_times = []
    for _ in range(repeats):
      start = time.perf_counter()
      sk = make_sk().fit(x, y)
      sk_times.append(time.perf_counter() - start)
    sk_qualities = [_quality(config.task, y_test, make_sk().set_params(random_state=s).fit(x, y).predict(x_test))
                    for s in range(num_seeds)]
    quality, sk_quality = float(np.mean(qualities)), float(np.mean(sk_qualities))
    row = dict(learner=learner, dataset=name, metric="accuracy" if config.task == "classification" else "R2",
               seeds=num_seeds, dljax=quality, sklearn=sk_quality, quality_diff=quality - sk_quality,
               dljax_seed_range=f"{min(qualities):.4f}-{max(qualities):.4f}",
               sklearn_seed_range=f"{min(sk_qualities):.4f}-{max(sk_qualities):.4f}",
               dljax_fit_s=fit_s, sklearn_fit_s=statistics.median(sk_times),
               time_ratio=fit_s / statistics.median(sk_times), compile_s=first - fit_s)
    if name == "digits":
      big = x_test[np.random.RandomState(0).randint(0, len(x_test), PREDICT_ROWS)]
      _, _, row["dljax_predict_s"] = _timed(lambda: predict(params, big), repeats)
      sk_pred = []
      for _ in range(repeats):
        start = time.perf_counter()
        sk.predict(big)
        sk_pred.append(time.perf_counter() - start)
      row["sklearn_predict_s"] = statistics.median(sk_pred)
    out.append(row)
  return out


def markdown(table: list[dict]) -> str:
  keys = ["learner", "dataset", "metric", "seeds", "dljax", "sklearn", "quality_diff", "dljax_seed_range",
          "sklearn_seed_range", "dljax_fit_s", "sklearn_fit_s",
          "time_ratio", "compile_s", "dljax_predict_s", "sklearn_predict_s"]
  fmt = lambda v: "" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))
  lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
  lines += ["| " + " | ".join(fmt(r.get(k)) for k in keys) + " |" for r in table]
  return "\n".join(lines)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--seeds", type=int, default=5, help="forest quality: mean over this many seeds")
  args = parser.parse_args(argv)
  print(markdown(rows(args.repeats, args.seeds)))
  print(f"\nreproduce: python benchmarks/classic_tree.py --repeats {args.repeats} --seeds {args.seeds}   "
        f"(jax {jax.__version__}, {jax.device_count()} {jax.devices()[0].platform} device(s))")


if __name__ == "__main__":
  sys.exit(main())
