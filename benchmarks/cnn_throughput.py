"""Training throughput of `fashion_mnist_cnn` against PyTorch and against this machine's matmul peak.

Measured in ONE run, with the timed windows of every contender interleaved (round robin), so a
slow-down caused by other processes on the machine hits all of them alike:
  * dljax: the experiment's own MinibatchTrainer (`trainer.train(state, n)`, n steps as `dljax run` takes
    them: one lax.scan over device-resident data, flip + crop augmentation in the step), max pool; and the
    same with average pooling, for reference;
  * PyTorch (the `bench` extra): the same architecture, batch, AdamW, augmentation, max pooling;
  * a 4096x4096 float32 `jnp.dot` under jit: the achievable FLOP/s of these cores.
Inputs are random but fixed: a step's cost does not depend on the input values.
Threads (benchmarks/_timing.py, printed in the header): XLA and PyTorch (torch.set_num_threads) both get all
the process's cores. Beside images/s (wall time) each contender's images per CPU-second (the process's CPU
time, all threads, over the same windows) is printed, and the dljax / PyTorch ratio of both.

Run:  python benchmarks/cnn_throughput.py            (add --skip-torch without the bench extra)
"""

import argparse
import os
import sys

import tempfile

import jax
import jax.numpy as jnp
import numpy as np

from dljax import registry
from dljax.nn.cnn import conv_flops_per_example

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import CORES, threads_line, timed, trainer_runner  # noqa: E402

EXPERIMENT = "fashion_mnist_cnn"
IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


def _inputs(batch):
  rng = np.random.RandomState(0)
  x = (rng.randint(0, 256, (batch, *IMAGE_SHAPE)) / 255.0).astype(np.float32)
  y = rng.randint(0, NUM_CLASSES, (batch,)).astype(np.int32)
  return x, y


def dljax_runner(pool, batch, directory):
  """The experiment's own MinibatchTrainer (`trainer.train(state, n)`, as `dljax run` trains) as `run(n)`,
  with its model FLOPs and XLA's count for one step."""
  x, y = _inputs(4 * batch)  # 4 batches per epoch
  trainer, run = trainer_runner(EXPERIMENT, [f"model.pool={pool}", f"batch_size={batch}"], x, y, directory)
  model_flops = 3 * conv_flops_per_example(trainer.model, IMAGE_SHAPE) * batch
  return run, model_flops, float(trainer.step_cost().get("flops", float("nan")))


def torch_runner(config, batch):
  """The same network, optimizer and augmentation in PyTorch (NCHW, its default CPU layout)."""
  import torch
  from torch import nn

  torch.manual_seed(0)
  torch.set_num_threads(CORES)
  layers, cin = [], IMAGE_SHAPE[-1]
  model_cfg = config.model
  for features in model_cfg.conv_features:
    layers += [nn.Conv2d(cin, features, 3, padding=1, bias=False),
               nn.BatchNorm2d(features, momentum=0.1),  # torch momentum 0.1 == flax momentum 0.9
               nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(model_cfg.conv_dropout)]
    cin = features
  layers.append(nn.Flatten())
  width = cin * (IMAGE_SHAPE[0] // 8) ** 2
  for d in model_cfg.dense:
    layers += [nn.Linear(width, d), nn.ReLU(), nn.Dropout(model_cfg.dense_dropout)]
    width = d
  layers.append(nn.Linear(width, NUM_CLASSES))
  net = nn.Sequential(*layers)
  net.train()
  opt_cfg = config.optimizer
  opt = torch.optim.AdamW(net.parameters(), lr=opt_cfg.learning_rate, weight_decay=opt_cfg.weight_decay)
  x, y = _inputs(batch)
  x = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
  y = torch.from_numpy(y).long()
  p = config.data.augment_crop_padding
  h, w = IMAGE_SHAPE[:2]
  rows = torch.arange(h).view(1, h, 1)
  cols = torch.arange(w).view(1, 1, w)
  loss_fn = nn.CrossEntropyLoss()

  def step():
    xb = torch.where(torch.rand(batch, 1, 1, 1) < 0.5, x.flip(3), x)  # random horizontal flip
    padded = nn.functional.pad(xb, (p, p, p, p))
    off = torch.randint(0, 2 * p + 1, (batch, 2))  # per-example random crop, as dljax does
    r = (rows + off[:, 0].view(-1, 1, 1)).unsqueeze(1).expand(batch, 1, h, w + 2 * p)
    c = (cols + off[:, 1].view(-1, 1, 1)).unsqueeze(1).expand(batch, 1, h, w)
    xb = padded.gather(2, r).gather(3, c)
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(net(xb), y)
    loss.backward()
    opt.step()

  def run(n):
    for _ in range(n):
      step()

  return run


def dot_runner(n=4096):
  a = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
  b = jax.random.normal(jax.random.key(2), (n, n), jnp.float32)
  f = jax.jit(jnp.dot).lower(a, b).compile()

  def run(k):
    for _ in range(k):
      out = f(a, b)
    out.block_until_ready()

  return run, 2 * n ** 3


def _cpu_ticks():
  with open("/proc/stat") as fh:
    fields = [int(v) for v in fh.readline().split()[1:]]
  return sum(fields), fields[3] + fields[4]  # total, idle + iowait


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=int, default=20, help="train steps per timed window")
  parser.add_argument("--windows", type=int, default=7, help="timed windows per contender (median reported)")
  parser.add_argument("--warmup", type=int, default=5, help="untimed steps per contender first")
  parser.add_argument("--batch", type=int, default=None, help="default: the experiment's batch size")
  parser.add_argument("--skip-torch", action="store_true", help="do not measure PyTorch")
  parser.add_argument("--torch-omp-passive", action="store_true",
                      help="OMP_WAIT_POLICY=PASSIVE for PyTorch: its spinning OpenMP threads collapse "
                           "(about 4x slower) when other processes share the cores; use it on a busy machine")
  args = parser.parse_args(argv)

  config = registry.get_config(EXPERIMENT)
  batch = args.batch or config.batch_size
  print(f"# {EXPERIMENT}: batch {batch}, {config.optimizer.name}, flip={config.data.augment_flip}, "
        f"crop_padding={config.data.augment_crop_padding}, float32, jax {jax.__version__} on "
        f"{jax.device_count()} {jax.devices()[0].platform} device(s), {os.cpu_count()} cores")
  print("# inputs: random but fixed uint8-valued images / 255; input values do not change a step's cost")
  print("# " + threads_line("PyTorch " + ("not run" if args.skip_torch else f"torch.set_num_threads({CORES})")))

  directory = tempfile.mkdtemp()
  max_run, model_flops, xla_flops = dljax_runner("max", batch, directory)
  avg_run, _, _ = dljax_runner("avg", batch, directory)
  dot_run, dot_flops = dot_runner()
  contenders = {"dljax (max pool)": (max_run, batch, args.steps),
                "dljax (avg pool, reference)": (avg_run, batch, args.steps)}
  if not args.skip_torch:
    if args.torch_omp_passive:
      os.environ["OMP_WAIT_POLICY"] = "PASSIVE"  # read by libgomp when torch is first imported
    import torch
    contenders[f"PyTorch {torch.__version__} (max pool)"] = (torch_runner(config, batch), batch, args.steps)
  contenders["jnp.dot 4096x4096 f32"] = (dot_run, 1, max(1, args.steps // 10))

  for run, _, n in contenders.values():
    run(n)  # compiles dljax's n-step scan (a chunk of another length would compile anew)
    run(args.warmup)
  rates = {name: [] for name in contenders}  # items/s: images for training, dots for the matmul
  cpu_rates = {name: [] for name in contenders}  # items per CPU-second of this process (all threads)
  total0, idle0 = _cpu_ticks()
  own = 0.0
  for _ in range(args.windows):
    for name, (run, per_call, n) in contenders.items():
      _, wall, cpu = timed(lambda: run(n))
      rates[name].append(n * per_call / wall)
      cpu_rates[name].append(n * per_call / cpu)
      own += cpu
  total1, idle1 = _cpu_ticks()
  busy = (total1 - total0) - (idle1 - idle0)
  ticks = os.sysconf("SC_CLK_TCK")
  others = max(0.0, busy / ticks - own) / ((total1 - total0) / ticks)

  med = {name: float(np.median(v)) for name, v in rates.items()}
  cpu_med = {name: float(np.median(v)) for name, v in cpu_rates.items()}
  peak = med["jnp.dot 4096x4096 f32"] * dot_flops
  ours = med["dljax (max pool)"]
  print()
  print("| contender | images/s (median) | spread (min-max) | images per CPU-s (median) | GFLOP/step (model) | "
        "achieved GFLOP/s | of jnp.dot peak |")
  print("|---|---|---|---|---|---|---|")
  for name, r in med.items():
    lo, hi = min(rates[name]), max(rates[name])
    if name.startswith("jnp.dot"):
      print(f"| {name} | - | - | - | {dot_flops / 1e9:.1f} per dot | {peak / 1e9:.0f} | 100% |")
      continue
    achieved = r / batch * model_flops
    print(f"| {name} | {r:.0f} | {lo:.0f}-{hi:.0f} | {cpu_med[name]:.0f} | {model_flops / 1e9:.2f} | "
          f"{achieved / 1e9:.0f} | {achieved / peak:.0%} |")
  print()
  print(f"model FLOPs per train step: {model_flops / 1e9:.2f} G (conv_flops_per_example x 3 for fwd+bwd "
        f"x batch {batch}); XLA cost_analysis of the compiled step: {xla_flops / 1e9:.2f} G")
  torch_names = [n for n in med if n.startswith("PyTorch")]
  if torch_names:
    print(f"ratio dljax / PyTorch (max pool): {ours / med[torch_names[0]]:.2f} images/s (wall), "
          f"{cpu_med['dljax (max pool)'] / cpu_med[torch_names[0]]:.2f} images per CPU-second")
  print(f"ratio dljax max pool / avg pool: {ours / med['dljax (avg pool, reference)']:.2f}")
  print(f"other processes used {others:.0%} of the machine's CPU during the timed windows "
        "(all contenders interleaved, so ratios are fairer than absolute numbers)")
  if torch_names and others > 0.1 and not args.torch_omp_passive:
    print("warning: the machine is shared and PyTorch's OpenMP threads spin; rerun with --torch-omp-passive "
          "(or on an idle machine) before trusting the PyTorch ratio")
  print(f"reproduce: python benchmarks/cnn_throughput.py {' '.join(sys.argv[1:] if argv is None else argv)}".rstrip())


if __name__ == "__main__":
  main()
