"""`dljax` command line: list, show, results, run, eval, plot, sweep, report. Each command is a thin wrapper of a library call.

Bad input exits with code 2 and one line on stderr naming the fix.
"""

import argparse
import functools
import json
import logging
import os
import sys

from dljax.errors import UserError

USAGE = """dljax list
       dljax show NAME [--config.KEY=VALUE ...]
       dljax results
       dljax run NAME --workdir DIR [--vmap_seeds 0,1,2] [--config.KEY=VALUE ...]
       dljax eval NAME --workdir DIR [--config.KEY=VALUE ...]
       dljax plot DIR [DIR ...] --out FILE.png
       dljax sweep NAME --workdir DIR [--grid KEY=V1,V2 ...] [--seeds N] [--parallel N] [--dry_run]
                   [--vmap_seeds] [--deterministic] [--sweep_file FILE.json] [--config.KEY=VALUE ...]
       dljax report DIR [--x KEY]
  run/eval multi-process: [--coordinator HOST:PORT --num_processes N --process_id I] [--init_timeout S]"""


class _Parser(argparse.ArgumentParser):
  def error(self, message):
    raise UserError(f"{message} (usage: {USAGE.splitlines()[0].strip()} | run NAME --workdir DIR | ...; see `dljax --help`)")


def _split_overrides(argv: list[str]) -> tuple[list[str], list[str]]:
  rest, overrides = [], []
  i = 0
  while i < len(argv):
    arg = argv[i]
    if arg.startswith("--config."):
      body = arg[len("--config."):]
      if "=" not in body and i + 1 < len(argv) and not argv[i + 1].startswith("--"):
        body = f"{body}={argv[i + 1]}"
        i += 1
      overrides.append(body)
    else:
      rest.append(arg)
    i += 1
  return rest, overrides


def _config(name: str, overrides: list[str]):
  from dljax import config as config_lib, registry
  return config_lib.apply_overrides(registry.get_config(name), overrides)


def cmd_list(args) -> int:
  from dljax import registry
  rows = [(e.name, e.kind, e.dataset, e.description) for e in registry.all_experiments()]
  widths = [max(len(r[i]) for r in rows + [("name", "kind", "dataset", "")]) for i in range(3)]
  print(f"{'name':<{widths[0]}}  {'kind':<{widths[1]}}  {'dataset':<{widths[2]}}  description")
  for r in rows:
    print(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}")
  return 0


def cmd_show(args) -> int:
  from dljax import config as config_lib, registry
  config = _config(args.name, args.overrides)
  print(registry.get(args.name).doc.strip())
  print()
  print(config_lib.format_config(config))
  return 0


def result_text(doc: str) -> str:
  """The paragraph of an experiment's docstring that starts with "Result:", on one line, without the label."""
  lines = [line.strip() for line in doc.splitlines()]
  for i, line in enumerate(lines):
    if line.startswith("Result:"):
      paragraph = [line[len("Result:"):].strip()]
      for rest in lines[i + 1:]:
        if not rest:
          break
        paragraph.append(rest)
      return " ".join(part for part in paragraph if part)
  return ""


def results_table() -> str:
  """The README's results table: one markdown row per registered experiment, its Result paragraph."""
  from dljax import registry

  def cell(text: str) -> str:
    return text.replace("|", "\\|")

  rows = ["| experiment | dataset | result |", "|---|---|---|"]
  rows += [f"| `{e.name}` | {cell(e.dataset)} | {cell(result_text(e.doc))} |" for e in registry.all_experiments()]
  return "\n".join(rows) + "\n"


def cmd_results(args) -> int:
  del args
  print(results_table(), end="")
  return 0


def _join_job(args) -> None:
  """Multi-process flags (or DLJAX_* / SLURM / Cloud TPU environments) -> jax.distributed."""
  from dljax import parallel
  parallel.initialize_distributed(parallel.distributed_spec(args.coordinator, args.num_processes,
                                                            args.process_id, args.init_timeout))


def _summary_line(summary: dict, workdir: str) -> str:
  metrics = ", ".join(f"{k}={v:.4f}" for k, v in summary["metrics"].items())
  return (f"{summary['experiment']}: {metrics} | {summary['steps']} steps in {summary['wall_time_s']:.1f}s "
          f"({summary['examples_per_s']:.0f} examples/s, {summary['devices']} device(s)) | "
          f"{os.path.join(workdir, 'summary.json')}")


def _resolve(path: str) -> str:
  from dljax.train import workdir as workdir_lib
  return workdir_lib.resolve(path)


def cmd_run(args) -> int:
  args.workdir = _resolve(args.workdir)
  config = _config(args.name, args.overrides)
  seeds = None
  if args.vmap_seeds:
    from dljax.sweeps import vmap_seeds
    seeds = vmap_seeds.parse_seeds(args.vmap_seeds)
    vmap_seeds.vmapped_config(config, seeds)  # refuses a non-minibatch experiment before any start-up
  _join_job(args)
  from dljax.train import loop
  if seeds is None:
    summaries = [loop.train_and_evaluate(config, args.workdir)]
    workdirs = [args.workdir]
  else:
    summaries = vmap_seeds.run_vmapped(config, args.workdir, seeds)
    workdirs = [os.path.join(args.workdir, f"seed={s}") for s in seeds]
  if summaries[0]["status"] != "done":
    print(f"{summaries[0]['status']} at step {summaries[0]['steps']}; checkpoint saved in {args.workdir}")
    return 0
  for summary, workdir in zip(summaries, workdirs):
    print(_summary_line(summary, workdir))
  return 0


def cmd_eval(args) -> int:
  args.workdir = _resolve(args.workdir)
  config = _config(args.name, args.overrides)
  _join_job(args)
  from dljax.train import loop
  print(json.dumps(loop.evaluate(config, args.workdir), sort_keys=True))
  return 0


def cmd_plot(args) -> int:
  from dljax import plot
  plot.plot_runs([_resolve(d) for d in args.dirs], _resolve(args.out))
  print(f"wrote {args.out}")
  return 0


def cmd_sweep(args) -> int:
  from dljax.sweeps import sweep
  args.workdir = _resolve(args.workdir)
  name, grid, seeds, overrides = args.name, list(args.grid), args.seeds, list(args.overrides)
  if args.sweep_file:
    spec = sweep.load_sweep_file(args.sweep_file)
    if name and spec["experiment"] and name != spec["experiment"]:
      raise UserError(f"experiment {name} on the command line but {spec['experiment']} in {args.sweep_file}")
    name = name or spec["experiment"]
    grid = spec["grid"] + grid
    seeds = seeds if seeds is not None else spec["seeds"]
    overrides = spec["overrides"] + overrides
  if not name:
    raise UserError("name the experiment to sweep: dljax sweep NAME --workdir DIR --grid KEY=V1,V2")
  spec = sweep.SweepSpec(name, sweep.parse_grid(grid), 1 if seeds is None else seeds, tuple(overrides))
  counts = sweep.run_sweep(spec, args.workdir, parallel=args.parallel, dry_run=args.dry_run,
                           vmap_seeds=args.vmap_seeds, deterministic=args.deterministic)
  if args.dry_run:
    return 0
  print(f"{counts['done']} runs done, {counts['skipped']} already finished, {counts['failed']} failed, "
        f"of {counts['runs']} in {args.workdir}; summarise with `dljax report {args.workdir}`")
  return 1 if counts["failed"] else 0


def cmd_report(args) -> int:
  from dljax.sweeps import report
  result = report.report(_resolve(args.dir), x_key=args.x)
  print(f"{len(result['rows'])} settings; wrote " + ", ".join(result["files"]))
  return 0


def _int_arg(text: str) -> int:
  try:
    return int(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


@functools.cache  # one parser per process: `main` may be called many times (tests, notebooks)
def build_parser() -> argparse.ArgumentParser:
  parser = _Parser(prog="dljax", usage=USAGE, description=__doc__)
  sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
  sub.add_parser("list", help="every registered experiment").set_defaults(fn=cmd_list)
  p = sub.add_parser("show", help="an experiment's docstring and resolved config")
  p.add_argument("name")
  p.set_defaults(fn=cmd_show)
  sub.add_parser("results", help="markdown table of every experiment's Result line (README.md holds it)"
                 ).set_defaults(fn=cmd_results)
  for command, fn, help_text in (("run", cmd_run, "train and evaluate (resumes from the workdir)"),
                                 ("eval", cmd_eval, "evaluate the newest checkpoint of a workdir")):
    p = sub.add_parser(command, help=help_text)
    p.add_argument("name")
    p.add_argument("--workdir", required=True)
    p.add_argument("--coordinator", help="HOST:PORT of process 0 (multi-process runs; or DLJAX_COORDINATOR)")
    p.add_argument("--num_processes", type=_int_arg)
    p.add_argument("--process_id", type=_int_arg)
    p.add_argument("--init_timeout", type=_int_arg, help="seconds to wait for the coordinator (default 300)")
    if command == "run":
      p.add_argument("--vmap_seeds", help="SEEDS (e.g. 0,1,2): train them vmapped in one program; "
                                          "WORKDIR/seed=K gets each seed's outputs")
    p.set_defaults(fn=fn)
  p = sub.add_parser("plot", help="learning curves of one or more runs")
  p.add_argument("dirs", nargs="+")
  p.add_argument("--out", required=True)
  p.set_defaults(fn=cmd_plot)
  p = sub.add_parser("sweep", help="a grid of overrides x seeds, each run in its own sub-workdir")
  p.add_argument("name", nargs="?")
  p.add_argument("--workdir", required=True)
  p.add_argument("--grid", action="append", default=[], help="KEY=V1,V2,... (repeat for more keys)")
  p.add_argument("--seeds", type=_int_arg, default=None, help="runs per setting, seeds 0..N-1 (default 1)")
  p.add_argument("--parallel", type=_int_arg, default=1, help="local processes at a time")
  p.add_argument("--dry_run", action="store_true", help="print the commands, run nothing")
  p.add_argument("--vmap_seeds", action="store_true",
                 help="all seeds of a setting vmapped in one compiled program (supervised experiments)")
  p.add_argument("--deterministic", action="store_true", help="XLA_FLAGS=--xla_gpu_deterministic_ops=true")
  p.add_argument("--sweep_file", help='JSON: {"experiment", "grid": {KEY: [V, ...]}, "seeds", "overrides"}')
  p.set_defaults(fn=cmd_sweep)
  p = sub.add_parser("report", help="results.csv, results.md and PNGs of a sweep directory")
  p.add_argument("dir")
  p.add_argument("--x", default=None, help="also plot each metric against this numeric config key")
  p.set_defaults(fn=cmd_report)
  return parser


def main(argv: list[str] | None = None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  # tfds and orbax log routine notices as absl WARNINGs; the CLI's own messages carry what matters.
  # DLJAX_VERBOSE=1 shows them.
  if not os.environ.get("DLJAX_VERBOSE"):
    logging.getLogger("absl").setLevel(logging.ERROR)
  rest, overrides = _split_overrides(argv)
  try:
    args = build_parser().parse_args(rest)
    args.overrides = overrides
    if overrides and args.command not in ("run", "eval", "show", "sweep"):
      raise UserError(f"--config.{overrides[0]}: config overrides apply to run, eval, show and sweep only")
    return args.fn(args)
  except UserError as e:
    print(f"dljax: error: {e}", file=sys.stderr)
    return 2


if __name__ == "__main__":
  sys.exit(main())
