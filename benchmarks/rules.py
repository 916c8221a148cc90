"""Apriori support counting: dljax.classic.rules.apriori against mlxtend's apriori, same data and thresholds.

The data are SYNTHETIC (a speed benchmark needs a size no bundled basket data set has): 100,000 baskets ×
50 items, item i present independently with probability p_i drawn from U(0.02, 0.4) (seed 0), so the
frequent itemsets reach several levels. Both sides return the same itemsets and supports (checked
here). Each call counts the supports of every candidate at every level, which is most of the time on
both sides: mlxtend gathers the candidate columns and reduces with np.all (its default, dense
low_memory=False path); dljax runs one jitted program of matrix products per level.

Times: dljax's first call includes compilation (`first_call_s`); then the median of `--repeats` calls
of each, interleaved round robin so load from other processes hits both alike. ratio = dljax / mlxtend.

Run:  python benchmarks/rules.py            (add --repeats N, --min-support S; defaults 3 and 0.01)
"""

import argparse
import statistics
import time

import numpy as np
import pandas as pd
from mlxtend.frequent_patterns import apriori as mlxtend_apriori

from dljax.classic import rules

REPRODUCE = "python benchmarks/rules.py"


def _timed(fn):
  start = time.perf_counter()
  out = fn()
  return out, time.perf_counter() - start


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--min-support", type=float, default=0.01)
  parser.add_argument("--rows", type=int, default=100_000)
  parser.add_argument("--items", type=int, default=50)
  args = parser.parse_args()
  rng = np.random.RandomState(0)
  x = rng.rand(args.rows, args.items) < rng.uniform(0.02, 0.4, args.items)
  frame = pd.DataFrame(x)

  ours, first_call_s = _timed(lambda: rules.apriori(x, args.min_support))
  theirs = mlxtend_apriori(frame, min_support=args.min_support)
  expected = {frozenset(int(i) for i in s): v for s, v in zip(theirs.itemsets, theirs.support)}
  got = ours.as_dict()
  assert got.keys() == expected.keys() and all(got[k] == expected[k] for k in expected), "results differ"

  ours_s, theirs_s = [], []
  for _ in range(args.repeats):
    ours_s.append(_timed(lambda: rules.apriori(x, args.min_support))[1])
    theirs_s.append(_timed(lambda: mlxtend_apriori(frame, min_support=args.min_support))[1])
  levels = max(len(s) for s in ours.itemsets)
  dljax_s, mlxtend_s = statistics.median(ours_s), statistics.median(theirs_s)
  print(f"{args.rows:,} baskets x {args.items} items (synthetic), min_support={args.min_support}: "
        f"{len(ours.itemsets):,} frequent itemsets up to size {levels}, identical in both")
  print("| contender | apriori time (median) | first call (incl. compile) |")
  print("|---|---|---|")
  print(f"| dljax | {dljax_s:.3f} s | {first_call_s:.3f} s |")
  print(f"| mlxtend | {mlxtend_s:.3f} s | |")
  print(f"ratio dljax / mlxtend = {dljax_s / mlxtend_s:.3f}  (reproduce: {REPRODUCE} --repeats {args.repeats} "
        f"--min-support {args.min_support})")


if __name__ == "__main__":
  main()
