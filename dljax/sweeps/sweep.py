"""Sweeps and ablations: a grid of config overrides x seeds, expanded into runs, each in its own
sub-workdir named after its settings, run in a local process pool or printed as launch commands.

    DIR/sweep.json                                  the sweep's spec (experiment, grid, seeds, overrides)
    DIR/learning_rate=1e-3,depth=2/seed=0/          one run: a `dljax run` workdir
    DIR/learning_rate=1e-3,depth=2/seed=0.log       its stdout and stderr

Re-running the same sweep skips runs whose summary.json says "done" and resumes the others from
their newest checkpoint (the loop's auto-resume). Every run is checked against the experiment's
config before anything starts, so an unknown key or a value of the wrong type fails the whole sweep
at once with one line.
"""

import concurrent.futures
import dataclasses
import hashlib
import itertools
import json
import os
import re
import shlex
import subprocess
import sys

from dljax import config as config_lib
from dljax import registry
from dljax.errors import UserError

DETERMINISTIC_XLA_FLAG = "--xla_gpu_deterministic_ops=true"
SWEEP_FILE = "sweep.json"


@dataclasses.dataclass(frozen=True)
class Run:
  setting: tuple[tuple[str, str], ...]   # ((config key, value text), ...) in grid order
  seed: int
  setting_dir: str                       # DIR/<setting name>
  workdir: str                           # DIR/<setting name>/seed=<seed>
  overrides: tuple[str, ...]             # every `key=value` for `dljax run`, seed last


@dataclasses.dataclass(frozen=True)
class SweepSpec:
  experiment: str
  grid: tuple[tuple[str, tuple[str, ...]], ...]
  seeds: int
  overrides: tuple[str, ...] = ()

  def to_json(self) -> dict:
    return {"experiment": self.experiment, "grid": {k: list(v) for k, v in self.grid},
            "seeds": self.seeds, "overrides": list(self.overrides)}


def split_values(text: str) -> list[str]:
  """'1e-3,3e-4' -> ['1e-3', '3e-4']; commas inside brackets or quotes stay: '(64,64),(128,)'."""
  values, depth, quote, current = [], 0, None, []
  for ch in text:
    if quote:
      quote = None if ch == quote else quote
    elif ch in "'\"":
      quote = ch
    elif ch in "([{":
      depth += 1
    elif ch in ")]}":
      depth -= 1
    elif ch == "," and depth == 0:
      values.append("".join(current).strip())
      current = []
      continue
    current.append(ch)
  values.append("".join(current).strip())
  return values


def parse_grid(items: list[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
  """`--grid KEY=V1,V2` strings -> ((KEY, (V1, V2)), ...), refusing empty and repeated entries."""
  grid, seen = [], set()
  for item in items:
    key, sep, text = item.partition("=")
    key = key.strip().removeprefix("--config.").removeprefix("config.")
    if not sep or not key:
      raise UserError(f"--grid {item!r}: expected KEY=V1,V2,... e.g. --grid optimizer.learning_rate=1e-3,3e-4")
    values = split_values(text)
    if not text.strip() or any(v == "" for v in values):
      raise UserError(f"--grid {item!r}: empty grid value; list one or more values, e.g. --grid {key}=1,2")
    if key in seen:
      raise UserError(f"--grid {key} is given twice: list all its values in one --grid {key}=V1,V2")
    if key == "seed":
      raise UserError("--grid seed=...: seeds are swept with --seeds N (seeds 0..N-1)")
    if len(set(values)) != len(values):
      raise UserError(f"--grid {item!r}: a value is repeated")
    seen.add(key)
    grid.append((key, tuple(values)))
  return tuple(grid)


def _value_text(value) -> str:
  if isinstance(value, str):
    return value
  if isinstance(value, (list, tuple)):
    return "(" + ", ".join(_value_text(v) for v in value) + ("," if len(value) == 1 else "") + ")"
  return json.dumps(value)


def load_sweep_file(path: str) -> dict:
  """A JSON sweep file: {"experiment": NAME, "grid": {KEY: [V, ...]}, "seeds": N, "overrides": {KEY: V}}."""
  try:
    with open(path) as f:
      spec = json.load(f)
  except OSError as e:
    raise UserError(f"--sweep_file {path}: {e.strerror}") from None
  except json.JSONDecodeError as e:
    raise UserError(f"--sweep_file {path}: not valid JSON ({e.msg} at line {e.lineno})") from None
  if not isinstance(spec, dict) or not isinstance(spec.get("grid", {}), dict):
    raise UserError(f"--sweep_file {path}: expected an object with \"experiment\" and a \"grid\" object "
                    "{\"key\": [values]}")
  unknown = set(spec) - {"experiment", "grid", "seeds", "overrides"}
  if unknown:
    raise UserError(f"--sweep_file {path}: unknown field(s) {sorted(unknown)}; use experiment, grid, seeds, overrides")
  grid = []
  for key, values in spec.get("grid", {}).items():
    values = values if isinstance(values, list) else [values]
    if not values:
      raise UserError(f"--sweep_file {path}: grid key {key!r} has no values")
    grid.append(f"{key}=" + ",".join(_value_text(v) for v in values))
  overrides = [f"{k}={_value_text(v)}" for k, v in spec.get("overrides", {}).items()]
  return {"experiment": spec.get("experiment"), "grid": grid, "seeds": spec.get("seeds"), "overrides": overrides}


def _short_keys(keys: list[str]) -> dict[str, str]:
  """Each key's last component, or the full key where two keys share one (model.depth, head.depth)."""
  leaves = [k.rsplit(".", 1)[-1] for k in keys]
  return {k: (leaf if leaves.count(leaf) == 1 else k) for k, leaf in zip(keys, leaves)}


def _clean(text: str) -> str:
  return re.sub(r"[^A-Za-z0-9.+\-]+", "_", text).strip("_") or "_"


def setting_name(setting: tuple[tuple[str, str], ...]) -> str:
  """A directory name for one grid point: `learning_rate=1e-3,depth=2` (values as typed, made path-safe)."""
  if not setting:
    return "base"
  short = _short_keys([k for k, _ in setting])
  return ",".join(f"{short[k]}={_clean(v)}" for k, v in setting)


def check_spec(spec: SweepSpec) -> None:
  """Every grid point applied to the experiment's config: unknown keys and wrong types fail here."""
  if not isinstance(spec.seeds, int) or isinstance(spec.seeds, bool) or spec.seeds < 1:
    raise UserError(f"--seeds={spec.seeds}: give the number of seeds, an integer >= 1")
  if any(o.split("=", 1)[0] == "seed" for o in spec.overrides):
    raise UserError("--config.seed in a sweep: seeds are swept with --seeds N (seeds 0..N-1)")
  base = registry.get_config(spec.experiment)
  config_lib.apply_overrides(base, list(spec.overrides))
  for key, values in spec.grid:
    for value in values:
      try:
        config_lib.apply_overrides(base, [*spec.overrides, f"{key}={value}"])
      except UserError as e:
        raise UserError(f"--grid {key}: {e}") from None


def expand(spec: SweepSpec, root: str) -> list[Run]:
  """The grid's cartesian product (in grid order, last key fastest) x seeds 0..N-1."""
  check_spec(spec)
  keys = [k for k, _ in spec.grid]
  runs, names = [], {}
  for values in itertools.product(*(v for _, v in spec.grid)):
    setting = tuple(zip(keys, values))
    name = setting_name(setting)
    if name in names and names[name] != setting:  # two values that read the same once path-safe
      name += "-" + hashlib.sha1(repr(setting).encode()).hexdigest()[:6]
    names[name] = setting
    setting_dir = os.path.join(root, name)
    for seed in range(spec.seeds):
      overrides = (*spec.overrides, *(f"{k}={v}" for k, v in setting), f"seed={seed}")
      runs.append(Run(setting, seed, setting_dir, os.path.join(setting_dir, f"seed={seed}"), overrides))
  return runs


def run_status(workdir: str) -> str:
  """done | resume (has checkpoints) | new."""
  summary = os.path.join(workdir, "summary.json")
  if os.path.exists(summary):
    try:
      with open(summary) as f:
        if json.load(f).get("status") == "done":
          return "done"
    except (OSError, json.JSONDecodeError):
      pass
  return "resume" if os.path.isdir(os.path.join(workdir, "checkpoints")) else "new"


def check_finished_matches(spec: SweepSpec, run: Run) -> None:
  """A finished run whose config.json differs from what this sweep would run is a clash, not a skip."""
  path = os.path.join(run.workdir, "config.json")
  if not os.path.exists(path):
    return
  with open(path) as f:
    recorded = json.load(f).get("config", {})
  wanted = config_lib.apply_overrides(registry.get_config(spec.experiment), list(run.overrides)).to_dict()
  wanted = json.loads(json.dumps(wanted, default=list))
  recorded = json.loads(json.dumps(recorded, default=list))
  if wanted != recorded:
    want, have = flat_config(wanted), flat_config(recorded)
    diff = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
    raise UserError(f"{run.workdir} was run with another config (differs in {', '.join(diff[:3])}); "
                    "pass another --workdir for this sweep")


def flat_config(d: dict, prefix: str = "") -> dict:
  """{"a.b": value} from nested dicts; lists (JSON's tuples) become tuples so values are hashable."""
  out = {}
  for k, v in d.items():
    if isinstance(v, dict):
      out.update(flat_config(v, f"{prefix}{k}."))
    else:
      out[f"{prefix}{k}"] = tuple(v) if isinstance(v, list) else v
  return out


def run_env(deterministic: bool, base_env=None) -> dict:
  """The children's environment: `--deterministic` adds XLA's deterministic GPU ops flag."""
  env = dict(os.environ if base_env is None else base_env)
  if deterministic and DETERMINISTIC_XLA_FLAG not in env.get("XLA_FLAGS", ""):
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " " + DETERMINISTIC_XLA_FLAG).strip()
  return env


def run_command(experiment: str, run: Run) -> list[str]:
  return [sys.executable, "-m", "dljax.cli", "run", experiment, "--workdir", run.workdir,
          *(f"--config.{o}" for o in run.overrides)]


def vmap_command(experiment: str, runs: list[Run]) -> list[str]:
  """One process for all seeds of one setting, vmapped (dljax.sweeps.vmap_seeds)."""
  first = runs[0]
  return [sys.executable, "-m", "dljax.cli", "run", experiment, "--workdir", first.setting_dir,
          "--vmap_seeds", ",".join(str(r.seed) for r in runs), *(f"--config.{o}" for o in first.overrides[:-1])]


@dataclasses.dataclass
class Job:
  command: list[str]
  runs: list[Run]
  log: str


def plan(spec: SweepSpec, root: str, *, vmap_seeds: bool = False) -> tuple[list[Job], list[Run]]:
  """(jobs to launch, finished runs skipped). Finished runs are checked against this sweep's config."""
  runs = expand(spec, root)
  if vmap_seeds and registry.get_config(spec.experiment).trainer != "minibatch":
    raise UserError(f"--vmap_seeds: {spec.experiment} is not a gradient-trained (minibatch) experiment; "
                    "run its seeds as separate processes (drop --vmap_seeds)")
  finished = [r for r in runs if run_status(r.workdir) == "done"]
  for r in finished:
    check_finished_matches(spec, r)
  todo = [r for r in runs if r not in finished]
  if not vmap_seeds:
    return [Job(run_command(spec.experiment, r), [r], r.workdir + ".log") for r in todo], finished
  jobs = []
  for setting_dir in dict.fromkeys(r.setting_dir for r in runs):
    group = [r for r in runs if r.setting_dir == setting_dir]
    if any(r not in finished for r in group):  # all seeds of a setting run together, as one program
      jobs.append(Job(vmap_command(spec.experiment, group), group, os.path.join(setting_dir, "vmap_seeds.log")))
  return jobs, finished


def write_spec(spec: SweepSpec, root: str) -> None:
  """DIR/sweep.json; a DIR holding another experiment's sweep (or other fixed overrides) is refused."""
  path = os.path.join(root, SWEEP_FILE)
  if os.path.exists(path):
    with open(path) as f:
      old = json.load(f)
    if old.get("experiment") != spec.experiment or old.get("overrides") != list(spec.overrides):
      raise UserError(f"{root} holds a sweep of {old.get('experiment')} with overrides {old.get('overrides')}; "
                      "pass another --workdir")
  os.makedirs(root, exist_ok=True)
  from dljax.train.workdir import write_json
  write_json(path, spec.to_json())


def shell_line(command: list[str], env_changes: dict) -> str:
  prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in env_changes.items())
  return (prefix + " " if prefix else "") + shlex.join(command)


def _execute(job: Job, env: dict) -> tuple[Job, int]:
  os.makedirs(os.path.dirname(job.log), exist_ok=True)
  with open(job.log, "a") as log:
    code = subprocess.run(job.command, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
  return job, code


def _last_error(log: str) -> str:
  try:
    with open(log) as f:
      lines = [l.strip() for l in f if l.strip()]
  except OSError:
    return "no log"
  errors = [l for l in lines if l.startswith("dljax: error:")]
  return (errors or lines or ["no output"])[-1][:300]


def run_sweep(spec: SweepSpec, root: str, *, parallel: int = 1, dry_run: bool = False, vmap_seeds: bool = False,
              deterministic: bool = False, out=None) -> dict:
  """Plans the sweep, then prints (dry run) or runs its jobs, `parallel` processes at a time.

  Returns counts {"runs", "skipped", "done", "failed"}. A dry run writes nothing and prints one shell
  line per job to `out`: exactly the commands this call would run.
  """
  out = sys.stdout if out is None else out  # looked up per call: tests and callers may swap sys.stdout
  if not isinstance(parallel, int) or parallel < 1:
    raise UserError(f"--parallel={parallel}: give the number of processes, an integer >= 1")
  jobs, finished = plan(spec, root, vmap_seeds=vmap_seeds)
  env = run_env(deterministic)
  env_changes = {k: v for k, v in env.items() if os.environ.get(k) != v}
  total = len(jobs) and sum(len(j.runs) for j in jobs)
  counts = {"runs": total + len(finished), "skipped": len(finished), "done": 0, "failed": 0}
  if dry_run:
    for job in jobs:
      print(shell_line(job.command, env_changes), file=out)
    return counts
  write_spec(spec, root)
  print(f"sweep {spec.experiment}: {counts['runs']} runs, {len(finished)} finished (skipped), "
        f"{sum(run_status(r.workdir) == 'resume' for j in jobs for r in j.runs)} to resume, "
        f"{parallel} at a time; logs next to each run", file=sys.stderr, flush=True)
  failures = []
  with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
    for job, code in pool.map(lambda j: _execute(j, env), jobs):
      ok = code == 0 and all(run_status(r.workdir) == "done" for r in job.runs)
      counts["done" if ok else "failed"] += len(job.runs)
      name = os.path.relpath(job.runs[0].setting_dir if len(job.runs) > 1 else job.runs[0].workdir, root)
      print(f"{'done' if ok else 'FAILED'}: {name}" + ("" if ok else f" ({_last_error(job.log)}; log {job.log})"),
            file=sys.stderr, flush=True)
      if not ok:
        failures.append(job)
  return counts
