"""DQN on CartPole-v1 (the `cartpole_dqn` experiment's agent): wall time to reach a greedy evaluation return of
475, for one seed and for 16 seeds vmapped in one program.

Training runs in scanned chunks of `--chunk-steps` env steps (jit(vmap over seeds of lax.scan of updates)); after
each chunk the greedy policy of every seed is evaluated on 10 full episodes (evaluation time is not counted).
Reported per setting: training wall time (compilation excluded, reported apart) and env steps until the mean
evaluation return over the seeds first reaches 475, the return at the end of the 100k-step budget, and the
training throughput in env steps/s summed over seeds. The ratio printed is the vmapped 16-seed throughput over
the single seed's (how much the seed axis gains over 16 sequential runs of the same program).

Run:  python benchmarks/rl_dqn.py                (--seeds 1,16 --chunk-steps 5000)
Prints the ratio and, per setting, the verdict against the issue's target (mean greedy return >= 475 at 100k steps).
Measured (2 CPU cores shared with other jobs, no accelerator, 2026-11-25; LayerNorm Q-network, 5-step returns):
1 seed: 475 first reached after 10k env steps in 6.1 s of training (1,241 env steps/s; compile 4.1 s), ended at 500
(its curve still swings between ~310 and 500 mid-run, before the learning rate has decayed); 16 seeds vmapped: the
mean over seeds first reached 475 after 15k env steps, 80.7 s of training, stayed within 457-500 from then on
(>= 475 at every evaluation from 65k) and ended at 497.8 (15 seeds at 500, one at 464); 508 s for the 100k steps,
3,149 env steps/s summed over seeds = 2.5x the single seed. Before LayerNorm and n-step returns: the 16-seed mean
peaked at 296 and ended at 223.
"""

import argparse
import time

import jax
import numpy as np

from dljax import registry
from dljax.rl import dqn

TARGET = 475.0


def run_setting(config, num_seeds: int, chunk_steps: int) -> dict:
  agent = dqn.make_train(config)
  updates_per_chunk = chunk_steps // agent.env_steps_per_update
  num_chunks = agent.num_updates // updates_per_chunk

  def chunk(runners):
    one = lambda r: jax.lax.scan(lambda s, _: agent.update(s), r, None, length=updates_per_chunk)
    return jax.vmap(one)(runners)[0]

  keys = jax.random.split(jax.random.key(config.seed), num_seeds)
  eval_keys = jax.random.split(jax.random.key(config.seed + 1), num_seeds)
  runners = jax.jit(jax.vmap(agent.init))(keys)
  t0 = time.perf_counter()
  chunk = jax.jit(chunk).lower(runners).compile()
  compile_s = time.perf_counter() - t0
  evaluate = jax.jit(jax.vmap(agent.evaluate))
  train_s, reached, history = 0.0, None, []
  for i in range(num_chunks):
    t0 = time.perf_counter()
    runners = jax.block_until_ready(chunk(runners))
    train_s += time.perf_counter() - t0
    returns = np.asarray(evaluate(runners, eval_keys)["mean_return"])
    steps = (i + 1) * updates_per_chunk * agent.env_steps_per_update
    history.append((steps, float(returns.mean())))
    if reached is None and returns.mean() >= TARGET:
      reached = (steps, train_s)
  total_steps = num_chunks * updates_per_chunk * agent.env_steps_per_update
  return {"seeds": num_seeds, "compile_s": compile_s, "train_s": train_s, "reached": reached,
          "final_return": history[-1][1], "final_per_seed": returns.round().astype(int).tolist(), "history": history,
          "steps_per_s": num_seeds * total_steps / train_s}


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--seeds", default="1,16")
  parser.add_argument("--chunk-steps", type=int, default=5000)
  args = parser.parse_args()
  config = registry.get_config("cartpole_dqn")
  results = [run_setting(config, int(s), args.chunk_steps) for s in args.seeds.split(",")]
  print(f"{'seeds':>5s} {'compile s':>9s} {'train s':>8s} {'reach 475 at (steps, s)':>24s} {'final return':>12s} "
        f"{'env steps/s':>12s}")
  for r in results:
    reached = f"{r['reached'][0]:,} / {r['reached'][1]:.1f}" if r["reached"] else "not reached"
    print(f"{r['seeds']:5d} {r['compile_s']:9.1f} {r['train_s']:8.1f} {reached:>24s} {r['final_return']:12.1f} "
          f"{r['steps_per_s']:12,.0f}")
    print("      eval curve (env steps, mean return):", [(s, round(v)) for s, v in r["history"]])
    print("      final return per seed:", r["final_per_seed"])
    verdict = "met" if r["final_return"] >= TARGET else "missed"
    print(f"      target: mean greedy return >= {TARGET:g} after the 100k env steps: {verdict}")
  if len(results) > 1:
    print(f"throughput of {results[-1]['seeds']} seeds vmapped / 1 seed: "
          f"{results[-1]['steps_per_s'] / results[0]['steps_per_s']:.1f}x")
  print(f"devices: {jax.devices()}; reproduce: python benchmarks/rl_dqn.py --seeds {args.seeds} "
        f"--chunk-steps {args.chunk_steps}")


if __name__ == "__main__":
  main()
