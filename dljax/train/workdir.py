"""The workdir: an exclusive lock, config.json, metrics.jsonl + TensorBoard events, summary.json."""

import fcntl
import json
import os
import subprocess
import time
from importlib import metadata

import jax

from dljax.errors import UserError

LOCK_FILE = ".lock"
PACKAGES = ("dljax", "jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "grain", "tensorflow-datasets",
            "numpy", "ml-collections", "scikit-learn")


def resolve(path: str) -> str:
  """`path` made absolute against the current directory (orbax refuses relative checkpoint paths, and a
  subprocess may run elsewhere); `~` is expanded; URLs such as gs://bucket/run are kept as given."""
  if "://" in path:
    return path
  return os.path.abspath(os.path.expanduser(path))


class WorkdirLock:
  """flock on WORKDIR/.lock: held while a run lives, released by the kernel when its process dies,
  so a lock left behind by a killed run never blocks the next one. In a multi-process job only
  process 0 holds it (the others share its workdir, or write nothing but checkpoint shards)."""

  def __init__(self, workdir: str):
    self.path = os.path.join(workdir, LOCK_FILE)
    self._fd = None

  def __enter__(self):
    if jax.process_index() != 0:
      return self
    fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
      os.close(fd)
      raise UserError(f"workdir {os.path.dirname(self.path)} is in use by a running dljax run "
                      f"(pid {holder}); wait for it to finish or pass another --workdir") from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    self._fd = fd
    return self

  def __exit__(self, *exc):
    if self._fd is None:
      return
    fcntl.flock(self._fd, fcntl.LOCK_UN)
    os.close(self._fd)


def _git_commit() -> str | None:
  here = os.path.dirname(os.path.abspath(__file__))
  try:
    out = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
  except (OSError, subprocess.TimeoutExpired):
    return None
  return out.stdout.strip() or None if out.returncode == 0 else None


def run_info(config, data_files: dict | None = None) -> dict:
  """What config.json records: the config, package versions, git commit, devices, and the sha256 of data
  files read from outside pip (`data_files`, e.g. Debian's Fashion-MNIST IDX files)."""
  versions = {}
  for name in PACKAGES:
    try:
      versions[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
      pass
  return {"config": config.to_dict(), "seed": config.seed, "versions": versions, "git_commit": _git_commit(),
          "devices": {"count": jax.device_count(), "platform": jax.devices()[0].platform,
                      "processes": jax.process_count()},
          "data_files": data_files or {}}


def write_json(path: str, obj) -> None:
  """Atomic write: a reader never sees half a file, a crash never leaves one."""
  tmp = f"{path}.tmp{os.getpid()}"
  with open(tmp, "w") as f:
    json.dump(obj, f, indent=2, sort_keys=True, default=float)
    f.write("\n")
  os.replace(tmp, path)


def read_metrics(workdir: str) -> list[dict]:
  path = os.path.join(workdir, "metrics.jsonl")
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


class MetricsWriter:
  """metrics.jsonl lines {"step", "split", "time", **metrics} and TensorBoard scalars, process 0 only.

  On resume from step S, lines past S (written after that checkpoint) are dropped so the file reads
  as one uninterrupted run.
  """

  def __init__(self, workdir: str, resume_step: int):
    self.active = jax.process_index() == 0
    self.path = os.path.join(workdir, "metrics.jsonl")
    self._tb = None
    if not self.active:
      return
    kept = [r for r in read_metrics(workdir) if r["step"] <= resume_step]
    with open(self.path + ".tmp", "w") as f:
      f.writelines(json.dumps(r) + "\n" for r in kept)
    os.replace(self.path + ".tmp", self.path)
    from tensorboardX import SummaryWriter  # pure Python event writer: no TensorFlow needed
    self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"), purge_step=resume_step + 1)
    self._start = time.time()

  def write(self, step: int, split: str, metrics: dict) -> None:
    if not self.active:
      return
    record = {"step": int(step), "split": split, "time": time.time(), **{k: float(v) for k, v in metrics.items()}}
    with open(self.path, "a") as f:
      f.write(json.dumps(record) + "\n")
    for k, v in metrics.items():
      self._tb.add_scalar(f"{split}/{k}", float(v), int(step))

  def close(self):
    if self._tb is not None:
      self._tb.close()
