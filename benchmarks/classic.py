"""Every classical learner against scikit-learn in one run: quality and fit time side by side.

Gathers the rows of classic_linear.py, classic_svm.py and classic_tree.py (each runnable alone) into
one table with the targets checked: quality >= scikit-learn's - 0.005 (forests: mean over seeds), fit
time <= 2x scikit-learn's (dljax timed after its first, compiling call, which is reported separately),
tree and forest prediction on 100,000 rows faster than scikit-learn's.

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

KEYS = ["learner", "dataset", "metric", "seeds", "dljax", "sklearn", "quality_diff", "dljax_fit_s", "sklearn_fit_s",
        "time_ratio", "compile_s", "dljax_predict_s", "sklearn_predict_s"]


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
  table = classic_linear.rows(args.repeats) + classic_svm.rows(args.repeats) + classic_tree.rows(args.repeats)
  print(markdown(table))
  print(f"\nreproduce: python benchmarks/classic.py --repeats {args.repeats}   "
        f"(jax {jax.__version__}, {jax.device_count()} {jax.devices()[0].platform} device(s), "
        f"{os.cpu_count()} cores)")


if __name__ == "__main__":
  sys.exit(main())
