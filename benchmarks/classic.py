"""Every classical learner against scikit-learn in one run: quality and fit time side by side.

Gathers the rows of classic_linear.py, classic_svm.py and classic_tree.py (each runnable alone) into
one table with the targets checked: quality >= scikit-learn's - 0.005 (forests: mean over seeds), fit
time <= 2x scikit-learn's (dljax timed after its first, compiling call, which is reported separately),
tree and forest prediction on 100,000 rows faster than scikit-learn's.

Threads (benchmarks/_timing.py; the header line says them): XLA runs on all the process's cores, and so
does scikit-learn where it can: BLAS and OpenMP pools, forests' n_jobs; libsvm (SVC/SVR) and a single tree
are single-threaded. time_ratio / predict_ratio are wall-time ratios (the verdicts), cpu_ratio /
predict_cpu_ratio the ratios of the process's CPU time (all threads) around the same calls.

Run:  python benchmarks/classic.py [--repeats 5]
"""

import argparse
import os
import sys

import jax

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import classic_linear  # noqa: E402
import classic_svm  # noqa: E402
import classic_tree  # noqa: E402
from _timing import CORES, threads_line  # noqa: E402

KEYS = ["learner", "dataset", "metric", "seeds", "dljax", "sklearn", "quality_diff", "dljax_fit_s", "sklearn_fit_s",
        "time_ratio", "dljax_fit_cpu_s", "sklearn_fit_cpu_s", "cpu_ratio", "compile_s", "dljax_predict_s",
        "sklearn_predict_s", "predict_ratio", "dljax_predict_cpu_s", "sklearn_predict_cpu_s", "predict_cpu_ratio"]
THREADS = threads_line(f"scikit-learn BLAS and OpenMP pools {CORES}, forests n_jobs={CORES}; libsvm (SVC/SVR) "
                       "and a single tree 1 (single-threaded, no n_jobs)")


def markdown(table: list[dict]) -> str:
  fmt = lambda v: "" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))
  lines = ["| " + " | ".join(KEYS) + " | quality ok | time ok | predict ok |", "|" + "---|" * (len(KEYS) + 3)]
  for r in table:
    quality_ok = "yes" if r["quality_diff"] >= -0.005 else "NO"
    time_ok = "yes" if r["time_ratio"] <= 2.0 else "NO"
    predict_ok = "" if r.get("dljax_predict_s") is None else (
        "yes" if r["dljax_predict_s"] < r["sklearn_predict_s"] else "NO")
    lines.append("| " + " | ".join(fmt(r.get(k)) for k in KEYS) + f" | {quality_ok} | {time_ok} | {predict_ok} |")
  return "\n".join(lines)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--repeats", type=int, default=5, help="timed fits per side (median reported)")
  args = parser.parse_args(argv)
  print(THREADS)
  table = classic_linear.rows(args.repeats) + classic_svm.rows(args.repeats) + classic_tree.rows(args.repeats)
  print(markdown(table))
  print(f"\nreproduce: python benchmarks/classic.py --repeats {args.repeats}   "
        f"(jax {jax.__version__}, {jax.device_count()} {jax.devices()[0].platform} device(s), "
        f"{os.cpu_count()} cores)")


if __name__ == "__main__":
  sys.exit(main())
