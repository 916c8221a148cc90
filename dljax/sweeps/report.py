"""`dljax report DIR`: every finished run under DIR, grouped by setting, summarised per final metric
(mean, sample standard deviation, 95% bootstrap confidence interval of the mean) into DIR/results.csv
and DIR/results.md, with PNGs comparing the settings (bars with CIs, learning curves, and metric
against a numeric key with `--x`). The report also says whether the runs it puts in one table differ
in anything besides the settings and seeds: other config keys, package versions, git commit.
"""

import csv
import dataclasses
import json
import os

import numpy as np

from dljax.errors import UserError
from dljax.sweeps.sweep import flat_config
from dljax.train.workdir import read_metrics

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0  # fixed: the same runs always give the same report


@dataclasses.dataclass
class RunRecord:
  workdir: str
  config: dict          # flattened: {"optimizer.learning_rate": 0.001, ...}
  seed: int
  versions: dict
  git_commit: str | None
  metrics: dict



def find_runs(root: str) -> list[RunRecord]:
  """Every workdir under `root` with a finished summary.json and its config.json."""
  if not os.path.isdir(root):
    raise UserError(f"{root} is not a directory: pass the --workdir of a `dljax sweep`")
  runs = []
  for here, dirs, files in os.walk(root):
    dirs.sort()
    if "summary.json" not in files or "config.json" not in files:
      continue
    with open(os.path.join(here, "summary.json")) as f:
      summary = json.load(f)
    if summary.get("status") != "done":
      continue
    with open(os.path.join(here, "config.json")) as f:
      info = json.load(f)
    runs.append(RunRecord(here, flat_config(info["config"]), int(info["seed"]), info.get("versions", {}),
                          info.get("git_commit"), summary["metrics"]))
  if not runs:
    raise UserError(f"no finished runs (summary.json with status done) under {root}: run `dljax sweep` first")
  return runs


def bootstrap_ci(values, *, level: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES,
                 seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
  """Percentile bootstrap CI of the mean: resample the n values with replacement `resamples` times,
  take the (1-level)/2 and (1+level)/2 quantiles of the resampled means (Efron & Tibshirani, ch. 13)."""
  values = np.asarray(values, np.float64)
  if len(values) == 1:
    return float(values[0]), float(values[0])
  rng = np.random.default_rng(seed)
  means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
  low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
  return float(low), float(high)


def summarize(values) -> dict:
  values = np.asarray(values, np.float64)
  low, high = bootstrap_ci(values)
  return {"n": len(values), "mean": float(values.mean()),
          "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0, "ci_low": low, "ci_high": high}


def varying_keys(runs: list[RunRecord]) -> list[str]:
  """Config keys whose value differs between runs, seed excluded: what defines a setting."""
  keys = sorted(set().union(*(r.config for r in runs)) - {"seed"})
  return [k for k in keys if len({repr(r.config.get(k)) for r in runs}) > 1]


def group_runs(runs: list[RunRecord]) -> tuple[list[str], dict[tuple, list[RunRecord]]]:
  keys = varying_keys(runs)
  groups: dict[tuple, list[RunRecord]] = {}
  for r in runs:
    groups.setdefault(tuple(r.config.get(k) for k in keys), []).append(r)
  return keys, groups


def provenance(groups: dict[tuple, list[RunRecord]]) -> list[str]:
  """Lines saying what the runs have in common and where they differ beyond the settings."""
  runs = [r for g in groups.values() for r in g]
  lines = []
  for what, value_of in (("package versions", lambda r: json.dumps(r.versions, sort_keys=True)),
                         ("git commit", lambda r: str(r.git_commit))):
    distinct = sorted({value_of(r) for r in runs})
    if len(distinct) == 1:
      lines.append(f"- {what}: identical in all {len(runs)} runs ({_brief(what, runs[0])})")
    else:
      lines.append(f"- **{what} differ** between runs: " + "; ".join(
          f"{_brief(what, r)} in {os.path.basename(os.path.dirname(r.workdir))}/{os.path.basename(r.workdir)}"
          for r in _one_per(runs, value_of)))
  for setting, group in groups.items():
    seeds = [r.seed for r in group]
    if len(set(seeds)) != len(seeds):
      lines.append(f"- **repeated seeds** in setting {setting}: {sorted(seeds)}")
  if all(len({r.seed for r in g}) == len(g) for g in groups.values()):
    lines.append("- seeds: " + "; ".join(sorted({", ".join(map(str, sorted(r.seed for r in g)))
                                                 for g in groups.values()})))
  return lines


def _one_per(runs, value_of):
  seen = {}
  for r in runs:
    seen.setdefault(value_of(r), r)
  return list(seen.values())


def _brief(what: str, run: RunRecord) -> str:
  if what == "git commit":
    return (run.git_commit or "unknown")[:12]
  return ", ".join(f"{k} {v}" for k, v in sorted(run.versions.items()) if k in ("jax", "jaxlib", "flax", "optax"))


def _order(setting: tuple) -> tuple:
  """Numbers by value (500 before 2000), then everything else by text."""
  return tuple((0, v, "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, 0, repr(v))
               for v in setting)


def _label(keys: list[str], setting: tuple) -> str:
  if not keys:
    return "base"
  return ", ".join(f"{k.rsplit('.', 1)[-1]}={_text(v)}" for k, v in zip(keys, setting))


def _text(v) -> str:
  return f"{v:g}" if isinstance(v, float) else str(v)


def report(root: str, *, x_key: str | None = None) -> dict:
  """Writes results.csv, results.md and PNGs into `root`; returns {"rows": [...], "files": [...]}."""
  runs = find_runs(root)
  keys, groups = group_runs(runs)
  metric_names = sorted(set().union(*(r.metrics for r in runs)))
  rows = []
  for setting, group in sorted(groups.items(), key=lambda kv: _order(kv[0])):
    row = {k: v for k, v in zip(keys, setting)}
    row["n"] = len(group)
    for m in metric_names:
      values = [r.metrics[m] for r in group if m in r.metrics]
      stats = summarize(values)
      row.update({f"{m}_{s}": stats[s] for s in ("mean", "std", "ci_low", "ci_high")})
    rows.append(row)
  files = [_write_csv(root, keys, metric_names, rows), _write_md(root, keys, metric_names, rows, groups)]
  files += _plots(root, keys, metric_names, rows, groups, x_key)
  return {"rows": rows, "files": files, "keys": keys}


def _write_csv(root, keys, metric_names, rows) -> str:
  path = os.path.join(root, "results.csv")
  columns = keys + ["n"] + [f"{m}_{s}" for m in metric_names for s in ("mean", "std", "ci_low", "ci_high")]
  with open(path, "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=columns)
    writer.writeheader()
    for row in rows:
      writer.writerow({k: _text(row[k]) if k in keys else row.get(k, "") for k in columns})
  return path


def _write_md(root, keys, metric_names, rows, groups) -> str:
  path = os.path.join(root, "results.md")
  header = [*(k for k in keys), "n", *(f"{m} mean ± std [95% CI]" for m in metric_names)]
  lines = [f"# Results: {root}", "",
           f"{sum(len(g) for g in groups.values())} finished runs in {len(groups)} settings; "
           f"95% CIs are percentile bootstrap intervals of the mean ({BOOTSTRAP_RESAMPLES:,} resamples).", "",
           "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  for row in rows:
    cells = [_text(row[k]) for k in keys] + [str(row["n"])]
    cells += [f"{row[f'{m}_mean']:.4f} ± {row[f'{m}_std']:.4f} [{row[f'{m}_ci_low']:.4f}, {row[f'{m}_ci_high']:.4f}]"
              if f"{m}_mean" in row else "" for m in metric_names]
    lines.append("| " + " | ".join(cells) + " |")
  lines += ["", "## Provenance", "", f"- settings differ in: {', '.join(keys) if keys else 'nothing (one setting)'}"]
  lines += provenance(groups)
  with open(path, "w") as f:
    f.write("\n".join(lines) + "\n")
  return path


def _plots(root, keys, metric_names, rows, groups, x_key) -> list[str]:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  files = []
  labels = [_label(keys, tuple(row[k] for k in keys)) for row in rows]
  for m in metric_names:
    present = [(label, row) for label, row in zip(labels, rows) if f"{m}_mean" in row]
    fig, ax = plt.subplots(figsize=(max(4, 0.8 * len(present) + 2), 3.5))
    means = np.array([r[f"{m}_mean"] for _, r in present])
    err = np.array([[r[f"{m}_mean"] - r[f"{m}_ci_low"] for _, r in present],
                    [r[f"{m}_ci_high"] - r[f"{m}_mean"] for _, r in present]])
    ax.bar(range(len(present)), means, yerr=err, capsize=4, color="tab:blue", alpha=0.8)
    ax.set_xticks(range(len(present)), [label for label, _ in present], rotation=30, ha="right", fontsize="small")
    ax.set_ylabel(f"{m} (mean, 95% CI)")
    spread = means.max() - means.min() if len(means) else 0
    low = min(r[f"{m}_ci_low"] for _, r in present)
    high = max(r[f"{m}_ci_high"] for _, r in present)
    ax.set_ylim(low - 0.2 * (high - low + spread + 1e-9), high + 0.2 * (high - low + spread + 1e-9))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    files.append(_save(fig, plt, os.path.join(root, f"bars_{m}.png")))
  files += _curves(root, keys, groups, plt)
  if x_key:
    files += _versus(root, keys, metric_names, rows, x_key, plt)
  return files


def _curves(root, keys, groups, plt) -> list[str]:
  """Train loss (and any test metric logged during training) against step: mean over seeds, band = min..max."""
  series = {}
  for setting, group in groups.items():
    for r in group:
      for rec in read_metrics(r.workdir):
        if rec["split"] == "train" and "loss" in rec:
          series.setdefault(setting, {}).setdefault(rec["step"], []).append(rec["loss"])
  if not series:
    return []
  fig, ax = plt.subplots(figsize=(6, 4))
  for setting, by_step in sorted(series.items(), key=lambda kv: _order(kv[0])):
    steps = sorted(by_step)
    values = [by_step[s] for s in steps]
    ax.plot(steps, [np.mean(v) for v in values], label=_label(keys, setting))
    ax.fill_between(steps, [min(v) for v in values], [max(v) for v in values], alpha=0.2)
  ax.set_xlabel("step")
  ax.set_ylabel("train loss (mean over seeds; band: min-max)")
  ax.set_yscale("log")
  ax.grid(alpha=0.3)
  ax.legend(fontsize="x-small")
  fig.tight_layout()
  return [_save(fig, plt, os.path.join(root, "curves_loss.png"))]


def _versus(root, keys, metric_names, rows, x_key, plt) -> list[str]:
  """Each metric against numeric key `x_key` (log x), one line per setting of the other keys."""
  if x_key not in keys:
    raise UserError(f"--x {x_key}: not a key the settings differ in; choose one of {', '.join(keys) or '(none)'}")
  if not all(isinstance(r[x_key], (int, float)) and not isinstance(r[x_key], bool) for r in rows):
    raise UserError(f"--x {x_key}: its values are not numbers; pick a numeric key")
  others = [k for k in keys if k != x_key]
  files = []
  for m in metric_names:
    fig, ax = plt.subplots(figsize=(6, 4))
    lines = {}
    for row in rows:
      if f"{m}_mean" in row:
        lines.setdefault(tuple(row[k] for k in others), []).append(row)
    for setting, line in sorted(lines.items(), key=lambda kv: _order(kv[0])):
      line.sort(key=lambda r: r[x_key])
      xs = [r[x_key] for r in line]
      ax.plot(xs, [r[f"{m}_mean"] for r in line], marker="o", label=_label(others, setting))
      ax.fill_between(xs, [r[f"{m}_ci_low"] for r in line], [r[f"{m}_ci_high"] for r in line], alpha=0.2)
    ax.set_xscale("log")
    ax.set_xlabel(x_key)
    ax.set_ylabel(f"{m} (mean, 95% CI)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small")
    fig.tight_layout()
    files.append(_save(fig, plt, os.path.join(root, f"{m}_vs_{x_key.rsplit('.', 1)[-1]}.png")))
  return files


def _save(fig, plt, path: str) -> str:
  fig.savefig(path, dpi=100)
  plt.close(fig)
  return path
