"""Learning curves of one or more runs, from their metrics.jsonl."""

import os

from dljax.errors import UserError
from dljax.train.workdir import read_metrics


def plot_runs(workdirs: list[str], out: str) -> None:
  runs = {}
  for d in workdirs:
    records = read_metrics(d)
    if not records:
      raise UserError(f"no metrics.jsonl in {d}: pass workdirs of `dljax run`")
    runs[d] = records
  panels = sorted({(r["split"], k) for recs in runs.values() for r in recs for k in r
                   if k not in ("step", "split", "time")})
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  cols = min(3, len(panels))
  rows = -(-len(panels) // cols)
  fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.5 * rows), squeeze=False)
  for ax, (split, key) in zip(axes.flat, panels):
    for d, recs in runs.items():
      pts = [(r["step"], r[key]) for r in recs if r["split"] == split and key in r]
      if pts:
        steps, values = zip(*pts)
        ax.plot(steps, values, marker="o" if len(pts) < 3 else None, label=os.path.basename(os.path.normpath(d)))
    ax.set_title(f"{split} {key}")
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
  for ax in list(axes.flat)[len(panels):]:
    ax.axis("off")
  axes.flat[0].legend(fontsize="small")
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  fig.savefig(out, dpi=100)
  plt.close(fig)
