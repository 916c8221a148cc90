"""Recurrent networks: dljax.nn.rnn against PyTorch's nn.RNN / nn.LSTM / nn.GRU, in one run.

Two measurements, each for the Elman RNN, LSTM and GRU:
  * train-step time: the experiment's own MinibatchTrainer (`trainer.train(state, n)`: n steps as `dljax run`
    takes them, one lax.scan on device-resident data; MSE loss, Adam + cosine) against PyTorch's step (zero_grad, forward, MSE, backward, Adam, scheduler),
    at the sunspots experiments' shape (batch 32, 20 steps, 1 input, 16 units) and at a larger one (batch
    256, 100 steps, 32 inputs, 128 units; random inputs, whose values do not change a step's cost). Timed
    windows alternate between the two libraries, so load on the machine hits both alike.
  * quality: the sunspots_{rnn,lstm,gru} recipe (300 epochs, batch 32, Adam 3e-3, cosine) trained from
    scratch by both on the same windows and scored on the same test years (R², mean ± std over `--seeds`),
    PyTorch with its default initialisation, dljax through `loop.train_and_evaluate` (the `dljax run`
    path, checkpoints and all); next to the AR(20) least-squares baseline (scikit-learn).
Threads (benchmarks/_timing.py, printed in the header): XLA and PyTorch (torch.set_num_threads) both get all
the process's cores (PyTorch's default here too). The step table gives wall time and the process's CPU time
(all threads) per step, over the same windows, and the dljax / PyTorch ratio of each.

Run:  python benchmarks/rnn.py            (--seeds 5 --windows 7)
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.linear_model import LinearRegression

from dljax import config as config_lib
from dljax import parallel, registry
from dljax.data.sources import load_dataset
from dljax.train import loop

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import CORES, threads_line, timed, trainer_runner  # noqa: E402

CELLS = ("rnn", "lstm", "gru")
# (name, batch, time steps, input features, hidden units)
SHAPES = [("sunspots", 32, 20, 1, 16), ("large", 256, 100, 32, 128)]
TOTAL_STEPS = 2_100  # the sunspots recipe's step count: the cosine schedule's horizon in the timing runs


def _r2(y, pred):
  return 1.0 - float(np.sum((pred - y) ** 2)) / float(np.sum((y - y.mean()) ** 2))


def dljax_step_runner(cell, batch, steps, features, hidden, learning_rate, directory):
  """sunspots_{cell}'s own trainer at this shape: run(n) is n steps as `dljax run` takes them."""
  rng = np.random.RandomState(0)
  x = rng.randn(8 * batch, steps, features).astype(np.float32)  # 8 batches per epoch
  y = rng.randn(8 * batch).astype(np.float32)
  return trainer_runner(f"sunspots_{cell}", [f"batch_size={batch}", f"model.hidden={hidden}", f"num_train_steps={TOTAL_STEPS}",
                                             f"optimizer.learning_rate={learning_rate}"], x, y, directory)[1]


def _torch_net(cell, features, hidden):
  import torch

  class Net(torch.nn.Module):
    def __init__(self):
      super().__init__()
      self.rnn = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
          features, hidden, batch_first=True)
      self.head = torch.nn.Linear(hidden, 1)

    def forward(self, x):
      out, _ = self.rnn(x)
      return self.head(out[:, -1])[:, 0]

  return Net()


def _torch_trainer(net, learning_rate, total_steps):
  import torch
  opt = torch.optim.Adam(net.parameters(), lr=learning_rate)
  schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps)  # optax cosine_decay, alpha 0

  def step(xb, yb):
    opt.zero_grad(set_to_none=True)
    loss = torch.nn.functional.mse_loss(net(xb), yb)
    loss.backward()
    opt.step()
    schedule.step()

  return step


def torch_step_runner(cell, batch, steps, features, hidden, learning_rate):
  import torch
  torch.manual_seed(0)
  rng = np.random.RandomState(0)
  x = torch.from_numpy(rng.randn(batch, steps, features).astype(np.float32))
  y = torch.from_numpy(rng.randn(batch).astype(np.float32))
  step = _torch_trainer(_torch_net(cell, features, hidden), learning_rate, TOTAL_STEPS)

  def run(n):
    for _ in range(n):
      step(x, y)

  return run


def step_times(windows: int, steps_per_window: int) -> list[dict]:
  with tempfile.TemporaryDirectory() as directory:
    return _step_times(windows, steps_per_window, directory)


def _step_times(windows: int, steps_per_window: int, directory: str) -> list[dict]:
  rows = []
  for shape, batch, steps, features, hidden in SHAPES:
    for cell in CELLS:
      runners = {"dljax": dljax_step_runner(cell, batch, steps, features, hidden, 3e-3, directory),
                 "torch": torch_step_runner(cell, batch, steps, features, hidden, 3e-3)}
      n = steps_per_window if shape == "sunspots" else max(1, steps_per_window // 10)
      for run in runners.values():
        run(n)  # compiles dljax's n-step scan (a chunk of another length would compile anew)
      times, cpus = {name: [] for name in runners}, {name: [] for name in runners}
      for _ in range(windows):
        for name, run in runners.items():
          _, wall, cpu = timed(lambda: run(n))
          times[name].append(wall / n)
          cpus[name].append(cpu / n)
      ours, theirs = statistics.median(times["dljax"]), statistics.median(times["torch"])
      ours_cpu, theirs_cpu = statistics.median(cpus["dljax"]), statistics.median(cpus["torch"])
      rows.append(dict(shape=f"{shape} (B={batch}, T={steps}, D={features}, H={hidden})", cell=cell,
                       dljax_ms=ours * 1e3, torch_ms=theirs * 1e3, ratio=ours / theirs,
                       dljax_cpu_ms=ours_cpu * 1e3, torch_cpu_ms=theirs_cpu * 1e3, cpu_ratio=ours_cpu / theirs_cpu))
  return rows


def torch_recipe(cell, data, config, seed):
  """The sunspots recipe in PyTorch: reshuffled batches of 32, last partial batch dropped, as dljax."""
  import torch
  torch.manual_seed(seed)
  net = _torch_net(cell, 1, config.model.hidden)
  batch = config.batch_size
  steps_per_epoch = len(data.train_x) // batch
  total = config.num_epochs * steps_per_epoch
  step = _torch_trainer(net, config.optimizer.learning_rate, total)
  x = torch.from_numpy(data.train_x[..., None])
  y = torch.from_numpy(data.train_y)
  generator = torch.Generator().manual_seed(seed)
  for _ in range(config.num_epochs):
    order = torch.randperm(len(x), generator=generator)
    for k in range(steps_per_epoch):
      idx = order[k * batch:(k + 1) * batch]
      step(x[idx], y[idx])
  with torch.no_grad():
    return net(torch.from_numpy(data.test_x[..., None])).numpy()


def quality(seeds: int) -> list[dict]:
  data = load_dataset("sunspots")
  ar = LinearRegression().fit(data.train_x, data.train_y)
  rows = [dict(model="AR(20) least squares (scikit-learn)", dljax="", torch="",
               sklearn=f"{_r2(data.test_y, ar.predict(data.test_x)):.4f}")]
  for cell in CELLS:
    name = f"sunspots_{cell}"
    ours, theirs, our_s, their_s = [], [], [], []
    for seed in range(seeds):
      config = config_lib.apply_overrides(registry.get_config(name), [f"seed={seed}"])
      with tempfile.TemporaryDirectory() as workdir:
        start = time.perf_counter()
        summary = loop.train_and_evaluate(config, workdir)
        our_s.append(time.perf_counter() - start)
      ours.append(summary["metrics"]["r2"])
      start = time.perf_counter()
      theirs.append(_r2(data.test_y, torch_recipe(cell, data, config, seed)))
      their_s.append(time.perf_counter() - start)
    fmt = lambda v: f"{np.mean(v):.4f} ± {np.std(v, ddof=1) if len(v) > 1 else 0:.4f}"
    rows.append(dict(model=f"{name} ({cell}, 16 units)", dljax=fmt(ours), torch=fmt(theirs), sklearn="",
                     dljax_run_s=f"{statistics.median(our_s):.1f}", torch_run_s=f"{statistics.median(their_s):.1f}",
                     run_ratio=f"{statistics.median(our_s) / statistics.median(their_s):.2f}"))
  return rows


def markdown(rows: list[dict]) -> str:
  keys = list(dict.fromkeys(k for r in rows for k in r))
  fmt = lambda v: f"{v:.3g}" if isinstance(v, float) else str(v)
  lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
  return "\n".join(lines + ["| " + " | ".join(fmt(r.get(k, "")) for k in keys) + " |" for r in rows])


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--seeds", type=int, default=5, help="training runs per model for the quality table")
  parser.add_argument("--windows", type=int, default=7, help="timed windows per contender (median reported)")
  parser.add_argument("--steps", type=int, default=100, help="train steps per window (large shape: a tenth)")
  parser.add_argument("--skip-quality", action="store_true")
  parser.add_argument("--skip-steps", action="store_true", help="only the whole-run quality table")
  args = parser.parse_args(argv)
  import torch
  torch.set_num_threads(CORES)
  print(f"# jax {jax.__version__} ({jax.device_count()} {jax.devices()[0].platform} device(s)), "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
  print("# " + threads_line(f"PyTorch torch.set_num_threads({CORES})"))
  if not args.skip_steps:
    print("\n## train step, ms (median of interleaved windows; wall, and CPU of all threads); "
          "ratio = dljax / PyTorch\n")
    print(markdown(step_times(args.windows, args.steps)))
  if not args.skip_quality:
    print(f"\n## sunspots test R² (targets 1950-2008), {args.seeds} seeds; run_s = one whole run's wall time "
          "(median over seeds; dljax's includes compilation and checkpoints), run_ratio = dljax / PyTorch\n")
    print(markdown(quality(args.seeds)))
  print(f"\nreproduce: python benchmarks/rnn.py {' '.join(sys.argv[1:] if argv is None else argv)}".rstrip())


if __name__ == "__main__":
  sys.exit(main())
