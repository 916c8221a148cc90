"""What every benchmark against a peer shares: the cores each side gets, and the wall and CPU time of a call.

Both sides run in one process on the same cores. dljax's XLA CPU client runs its thread pool on all the cores
the process may use (`CORES`); the peer gets as many: its BLAS and OpenMP pools (`peer_threads`, threadpoolctl),
`n_jobs=CORES` where an estimator takes it, `torch.set_num_threads(CORES)`. A peer that cannot use them (libsvm,
a single scikit-learn tree, mlxtend's NumPy reductions, a Python loop) stays on one thread, and its benchmark's
header says so. Each benchmark prints, beside each wall-time ratio, the ratio of CPU times (`timed`:
`time.process_time`, all the process's threads, around the same calls), the work each side did whatever the
number of threads it ran on.

CPU time of one side can include a little of the other's: XLA's and OpenMP's pool threads spin briefly after
their work before they sleep, and the two sides' calls alternate.
"""

import os
import time

CORES = len(os.sched_getaffinity(0))


def timed(fn):
  """(fn's result, wall seconds, CPU seconds of this process: all its threads) of one call."""
  wall, cpu = time.perf_counter(), time.process_time()
  out = fn()
  return out, time.perf_counter() - wall, time.process_time() - cpu


def peer_threads(n: int = CORES):
  """Context manager: the BLAS and OpenMP pools (scikit-learn's, NumPy's, SciPy's) at n threads each.

  Enter it outside the timed calls: setting the pools takes ~7 ms.
  """
  from threadpoolctl import threadpool_limits
  return threadpool_limits(limits=n)


def threads_line(peer: str) -> str:
  """The header line saying which threads each side got; `peer` describes the peer's."""
  return f"threads: dljax/XLA {CORES} (every core of the process, XLA's default); {peer}"


def trainer_runner(name: str, overrides: list[str], x, y, directory: str):
  """The experiment's own MinibatchTrainer on fixed random inputs (a step's cost does not depend on the
  values): x, y saved as an npz source in `directory`. Returns (trainer, run) where run(n) advances n steps
  exactly as `dljax run` does (one lax.scan of n steps when the data sit on the devices)."""
  import jax  # pylint: disable=import-outside-toplevel
  import numpy as np  # pylint: disable=import-outside-toplevel
  from dljax import config as config_lib, parallel, registry  # pylint: disable=import-outside-toplevel
  from dljax.train import trainers  # pylint: disable=import-outside-toplevel
  path = os.path.join(directory, f"{name}_{len(x)}.npz")
  np.savez(path, x_train=x, y_train=y, x_test=x[:8], y_test=y[:8])
  config = config_lib.apply_overrides(registry.get_config(name),
                                      [f"data.source=npz:{path}", "num_train_steps=100000", *overrides])
  trainer = trainers.make_trainer(config, parallel.make_mesh(), jax.random.key(config.seed))
  holder = {"state": trainer.init_state()}

  def run(n):
    state, result = trainer.train(holder["state"], n)
    holder["state"] = jax.block_until_ready(state)
    jax.block_until_ready(result.metrics)

  return trainer, run
