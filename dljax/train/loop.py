"""The one training loop, for every trainer: resume, train in chunks, log, evaluate, checkpoint,
stop cleanly on SIGTERM or on a non-finite loss, write the summary. The loop is the only writer of
workdir files: config.json, metrics, checkpoints, the evaluation's tables and figures, summary.json."""

import contextlib
import dataclasses
import os
import shutil
import signal
import sys
import threading
import time

import jax
import ml_collections
import numpy as np
import tqdm

from dljax import config as config_lib
from dljax import parallel
from dljax.errors import UserError
from dljax.train import artifacts as artifacts_lib
from dljax.train import checkpoint as ckpt_lib
from dljax.train import trainers as trainers_lib
from dljax.train import workdir as workdir_lib


class _StopSignal:
  """Turns SIGTERM into a flag checked between chunks (main thread only; a no-op elsewhere)."""

  def __init__(self):
    self.requested = False
    self._previous = None

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      self._previous = signal.signal(signal.SIGTERM, self._handle)
    return self

  def _handle(self, signum, frame):
    self.requested = True

  def __exit__(self, *exc):
    if self._previous is not None:
      signal.signal(signal.SIGTERM, self._previous)


def use_compilation_cache() -> None:
  """Programs compiled by one run are reused by the next (the same XLA program on the same backend): jax's
  persistent compilation cache in $JAX_COMPILATION_CACHE_DIR when set, else in the user's cache directory
  ($XDG_CACHE_HOME or ~/.cache)/dljax/jax_compilation_cache. digits_cnn's second run takes 10.9 s instead
  of 16.7 s on 2 CPU cores. DLJAX_COMPILATION_CACHE=0 turns it off."""
  if os.environ.get("DLJAX_COMPILATION_CACHE") == "0" or os.environ.get("JAX_COMPILATION_CACHE_DIR"):
    return  # off, or jax reads the directory from the environment itself
  cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  jax.config.update("jax_compilation_cache_dir", os.path.join(cache, "dljax", "jax_compilation_cache"))
  if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
    # jax's default (1 s) leaves out the init and eval programs, which a small run also waits for.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)


def _log(message: str) -> None:
  if jax.process_index() == 0:
    tqdm.tqdm.write(message, file=sys.stderr)


def _mean_metrics(host_metrics: dict) -> dict:
  return {k: float(np.mean(v)) for k, v in host_metrics.items()}


def _evaluate_and_write(trainer, state, workdir: str, writer, step: int, *, final: bool) -> dict:
  """Evaluates; writes the metrics and (process 0) the artifacts; at the end prints the tables' heads."""
  evaluation = trainer.evaluate(state)
  writer.write(step, "test", evaluation.metrics)
  if jax.process_index() == 0:
    artifacts_lib.write(workdir, evaluation.artifacts)
    for table in (a for a in evaluation.artifacts if final and getattr(a, "print_rows", 0)):
      shown = dataclasses.replace(table, rows=table.rows[:table.print_rows])
      _log(f"{table.title} (first {len(shown.rows)}; all in {table.name}.md/.csv):\n" +
           artifacts_lib.table_markdown(dataclasses.replace(shown, title="")).rstrip())
  return evaluation.metrics


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, *, stop_at_step: int | None = None) -> dict:
  """Trains `config`'s experiment in `workdir`, resuming from its newest checkpoint; returns the summary.

  `stop_at_step` pauses the run after that step with a checkpoint (for time-sliced jobs, and tests);
  calling again continues exactly where it paused.

  Raises UserError for anything the user can fix (bad data, workdir in use, non-finite loss).
  """
  config_lib.validate(config)
  parallel.maybe_initialize_distributed()
  use_compilation_cache()
  workdir = workdir_lib.resolve(workdir)
  created = not os.path.exists(workdir)
  os.makedirs(workdir, exist_ok=True)
  try:
    with workdir_lib.WorkdirLock(workdir):
      return _train_locked(config, workdir, stop_at_step)
  except BaseException:
    # A run that failed before writing anything leaves no empty workdir behind.
    if created and jax.process_index() == 0 and set(os.listdir(workdir)) <= {workdir_lib.LOCK_FILE}:
      shutil.rmtree(workdir, ignore_errors=True)
    raise


@dataclasses.dataclass
class _Clock:
  """Training time and examples of the run (carried across resumes in the checkpoint's host state); the
  rate leaves out each process's first chunk, which includes compilation."""
  train_time: float = 0.0
  examples_seen: int = 0
  timed_examples: int = 0
  timed_seconds: float = 0.0
  chunks: int = 0

  def add(self, examples: int, seconds: float) -> None:
    self.train_time += seconds
    self.examples_seen += examples
    if self.chunks:
      self.timed_examples += examples
      self.timed_seconds += seconds
    self.chunks += 1

  def examples_per_s(self) -> float:
    if self.timed_seconds == 0.0:
      return self.examples_seen / max(self.train_time, 1e-9)
    return self.timed_examples / self.timed_seconds


def _restore(trainer, checkpointer, state, workdir: str):
  """(state, clock, step of the restored checkpoint or None): the newest checkpoint, else the fresh state."""
  restored = checkpointer.restore_latest(ckpt_lib.abstract_like(state))
  if restored is None:
    return state, _Clock(), None
  restored_step, state, host_state = restored
  trainer.restore_host_state(host_state)
  _log(f"resumed from checkpoint {restored_step} in {workdir}")
  clock = _Clock(float(host_state.get("train_time_s", 0.0)), int(host_state.get("examples_seen", 0)))
  return state, clock, restored_step


def _check_finite(host: dict, finite, loss_metric: str, n: int, step: int, last_saved: int | None) -> None:
  """Raises UserError at the first of the chunk's n steps whose loss or parameters are not finite."""
  losses = np.asarray(host[loss_metric]).reshape(n, -1)
  finite = np.ones(n, bool) if finite is None else np.asarray(finite).reshape(n, -1).all(axis=1)
  bad = ~(np.isfinite(losses).all(axis=1) & finite)
  if not bad.any():
    return
  first = int(np.argmax(bad))
  what = f"{loss_metric} became {losses[first][0]}" if not np.isfinite(losses[first]).all() \
      else "the parameters became non-finite"
  kept = f"the last good checkpoint (step {last_saved}) is kept" if last_saved is not None else \
      "no checkpoint was written yet"
  raise UserError(f"{what} at step {step + first + 1}; {kept}; "
                  f"lower --config.optimizer.learning_rate or set --config.optimizer.grad_clip_norm")


def _chunk_length(step: int, log_every: int, pause_at: int) -> int:
  """Steps up to the next log point (or the pause)."""
  return min(log_every - step % log_every, pause_at - step)


def _is_due(every: int, step: int, n: int) -> bool:
  """Whether a multiple of `every` (0: never) falls in the chunk (step - n, step]."""
  return bool(every) and step % every < n


def _train_locked(config, workdir: str, stop_at_step: int | None) -> dict:
  trainer = trainers_lib.make_trainer(config, parallel.make_mesh(), jax.random.key(config.seed))
  checkpointer = ckpt_lib.Checkpointer(os.path.join(workdir, "checkpoints"), config.keep_checkpoints)
  state, clock, last_saved = _restore(trainer, checkpointer, trainer.init_state(), workdir)
  step = int(jax.device_get(state.step))
  if jax.process_index() == 0:
    workdir_lib.write_json(os.path.join(workdir, "config.json"), workdir_lib.run_info(config, trainer.source_files))
  writer = workdir_lib.MetricsWriter(workdir, resume_step=step)
  total = trainer.num_steps
  pause_at = total if stop_at_step is None else min(stop_at_step, total)
  log_every = max(1, config.log_every_steps)

  def save(at_step):
    nonlocal last_saved
    checkpointer.save(at_step, state, {**trainer.host_state(), "train_time_s": clock.train_time,
                                       "examples_seen": clock.examples_seen})
    last_saved = at_step

  progress = tqdm.tqdm(total=total, initial=step, desc=config.experiment, unit="step", file=sys.stderr,
                       disable=not sys.stderr.isatty() or jax.process_index() != 0, dynamic_ncols=True)
  with _StopSignal() as stop, progress, contextlib.closing(writer):
    while step < pause_at and not stop.requested:
      n = _chunk_length(step, log_every, pause_at)
      t0 = time.perf_counter()
      state, result = trainer.train(state, n)
      host, finite = jax.device_get((result.metrics, result.finite))  # metrics leave the device once per chunk
      seconds = time.perf_counter() - t0
      _check_finite(host, finite, trainer.loss_metric, n, step, last_saved)
      step += n
      clock.add(n * trainer.examples_per_step, seconds)
      progress.update(n)
      means = _mean_metrics(host)
      writer.write(step, "train", means)
      if not progress.disable:
        progress.set_postfix({k: f"{v:.4g}" for k, v in means.items()})
      elif step % max(log_every, total // 20 or 1) < n or step == total:
        _log(f"{config.experiment} step {step}/{total}: " + ", ".join(f"{k}={v:.4g}" for k, v in means.items()))
      if _is_due(config.eval_every_steps, step, n) and step < total:
        eval_metrics = _evaluate_and_write(trainer, state, workdir, writer, step, final=False)
        _log(f"{config.experiment} step {step} eval: " + ", ".join(f"{k}={v:.4g}" for k, v in eval_metrics.items()))
      if stop.requested or step == pause_at or _is_due(config.checkpoint_every_steps, step, n):
        save(step)
    if last_saved != step:
      save(step)
    if step < total:  # SIGTERM or stop_at_step: checkpointed above; the same command resumes.
      status = "interrupted" if stop.requested else "paused"
      _log(f"{status} at step {step}: checkpoint saved in {workdir}; run the same command to resume")
      checkpointer.close()
      return {"experiment": config.experiment, "kind": config.kind, "status": status, "steps": step}
    eval_metrics = _evaluate_and_write(trainer, state, workdir, writer, step, final=True)
  checkpointer.close()
  summary = {"experiment": config.experiment, "kind": config.kind, "status": "done", "metrics": eval_metrics,
             "steps": step, "wall_time_s": round(clock.train_time, 3),
             "examples_per_s": round(clock.examples_per_s(), 1), "devices": jax.device_count()}
  if jax.process_index() == 0:
    workdir_lib.write_json(os.path.join(workdir, "summary.json"), summary)
  return summary


def evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, float]:
  """Evaluates the newest checkpoint in `workdir` (read-only: nothing is written but the compilation cache)."""
  config_lib.validate(config)
  use_compilation_cache()
  workdir = workdir_lib.resolve(workdir)
  directory = os.path.join(workdir, "checkpoints")
  if not os.path.isdir(directory):
    raise UserError(f"no checkpoints in {workdir}: run `dljax run {config.experiment} --workdir {workdir}` first")
  mesh = parallel.make_mesh()
  trainer = trainers_lib.make_trainer(config, mesh, jax.random.key(config.seed))
  state = trainer.init_state()
  checkpointer = ckpt_lib.Checkpointer(directory, config.keep_checkpoints, read_only=True)
  restored = checkpointer.restore_latest(ckpt_lib.abstract_like(state))
  checkpointer.close()
  if restored is None:
    raise UserError(f"no checkpoints in {workdir}: run `dljax run {config.experiment} --workdir {workdir}` first")
  return trainer.evaluate(restored[1]).metrics
