"""Apriori support counting: dljax.classic.rules.apriori against mlxtend's apriori, same data and thresholds.

The data are SYNTHETIC (a speed benchmark needs a size no bundled basket data set has): 100,000 baskets ×
50 items, item i present independently with probability p_i drawn from U(0.02, 0.4) (seed 0), so the
frequent itemsets reach several levels. Both sides return the same itemsets and supports (checked
here). Each call counts the supports of every candidate at every level, which is most of the time on
both sides: mlxtend gathers the candidate columns and reduces with np.all (its default, dense
low_memory=False path); dljax runs one jitted program of matrix products per level.

Times: dljax's first call includes compilation (`first_call_s`); then the median of `--repeats` calls
of each, interleaved round robin so load from other processes hits both alike. ratio = dljax / mlxtend,
of wall times and, beside it, of the process's CPU time (all threads) around the same calls.

Threads (benchmarks/_timing.py, printed first): XLA runs on all the process's cores; mlxtend's np.all
reductions are single-threaded NumPy (its BLAS and OpenMP pools, set to the core count, go unused), so the
wall-time ratio sets XLA's cores against one thread and the CPU-time ratio compares the work done.

Run:  python benchmarks/rules.py            (add --repeats N, --min-support S; defaults 3 and 0.01)
"""

import argparse
import os
import statistics
import sys

import numpy as np
import pandas as pd
from mlxtend.frequent_patterns import apriori as mlxtend_apriori

from dljax.classic import rules

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import CORES, peer_threads, threads_line, timed  # noqa: E402

REPRODUCE = "python benchmarks/rules.py"


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--min-support", type=float, default=0.01)
  parser.add_argument("--rows", type=int, default=100_000)
  parser.add_argument("--items", type=int, default=50)
  args = parser.parse_args()
  print(threads_line(f"mlxtend 1 (single-threaded NumPy reductions; BLAS and OpenMP pools {CORES})"))
  rng = np.random.RandomState(0)
  x = rng.rand(args.rows, args.items) < rng.uniform(0.02, 0.4, args.items)
  frame = pd.DataFrame(x)

  ours, first_call_s, _ = timed(lambda: rules.apriori(x, args.min_support))
  theirs = mlxtend_apriori(frame, min_support=args.min_support)
  expected = {frozenset(int(i) for i in s): v for s, v in zip(theirs.itemsets, theirs.support)}
  got = ours.as_dict()
  assert got.keys() == expected.keys() and all(got[k] == expected[k] for k in expected), "results differ"

  ours_s, theirs_s, ours_cpu, theirs_cpu = [], [], [], []
  with peer_threads():
    for _ in range(args.repeats):
      _, wall, cpu = timed(lambda: rules.apriori(x, args.min_support))
      ours_s.append(wall)
      ours_cpu.append(cpu)
      _, wall, cpu = timed(lambda: mlxtend_apriori(frame, min_support=args.min_support))
      theirs_s.append(wall)
      theirs_cpu.append(cpu)
  levels = max(len(s) for s in ours.itemsets)
  dljax_s, mlxtend_s = statistics.median(ours_s), statistics.median(theirs_s)
  dljax_cpu, mlxtend_cpu = statistics.median(ours_cpu), statistics.median(theirs_cpu)
  print(f"{args.rows:,} baskets x {args.items} items (synthetic), min_support={args.min_support}: "
        f"{len(ours.itemsets):,} frequent itemsets up to size {levels}, identical in both")
  print("| contender | apriori time (median) | CPU time (median, all threads) | first call (incl. compile) |")
  print("|---|---|---|---|")
  print(f"| dljax | {dljax_s:.3f} s | {dljax_cpu:.3f} s | {first_call_s:.3f} s |")
  print(f"| mlxtend | {mlxtend_s:.3f} s | {mlxtend_cpu:.3f} s | |")
  print(f"ratio dljax / mlxtend = {dljax_s / mlxtend_s:.3f} wall, {dljax_cpu / mlxtend_cpu:.3f} CPU  "
        f"(reproduce: {REPRODUCE} --repeats {args.repeats} "
        f"--min-support {args.min_support})")


if __name__ == "__main__":
  main()
