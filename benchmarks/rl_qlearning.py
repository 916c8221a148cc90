"""Tabular Q-learning on FrozenLake 4x4 (slippery): 64 seeds x 5,000 episodes in ONE compiled program
(dljax.rl.q_learning, seeds vmapped, the loop a lax.while_loop until every seed has finished its
episodes) against 64 sequential runs of a plain NumPy Q-learner stepping gymnasium's own
FrozenLake-v1 (with its TimeLimit), with the same hyper-parameters and the same update, measured in
the same run.

Hyper-parameters (the frozenlake_qlearning experiment's): γ = 0.99; α linear 0.2 → 0.005 over the
5,000 episodes; ε linear 1.0 → 0.01 over the first 2,500 episodes, then 0.01; ε-greedy from one
uniform u (explore if u < ε, action ⌊4u/ε⌋), greedy ties to the first action; the update
Q(s,a) ← Q(s,a) + α[r + γ(1 − terminated) max_a' Q(s',a') − Q(s,a)].
Quality: each seed's greedy policy is scored by the same exact evaluator (dljax.rl.exact: success
probability within the 100-step limit); targets: dljax >= 100x faster, mean success within 0.02.
dljax's time excludes compilation (reported separately; the first call compiles) and is the median
of `--repeats` calls; the peer's is one pass over its seeds (`--peer_seeds`, 64 by default; with
fewer its time is scaled to 64 and says so). dljax's lockstep loop runs until the slowest seed
finishes, so it steps more than the peer's total; steps/s counts the steps each side really took.
Threads (benchmarks/_timing.py, printed first): XLA runs on all the process's cores; the peer is a sequential
Python loop, one thread. The speed-up is printed for wall time and, beside it, for the process's CPU time
(all threads) around the same calls.

Run:  python benchmarks/rl_qlearning.py [--repeats 3] [--peer_seeds 64]
Result (2 CPU cores, no accelerator, cores shared with other jobs: load average ~14, 2026-11-25):
  dljax 3.09 s (compile + first run 15.6 s), 3.1M env steps/s, mean success 0.7402 ± 0.0000;
  NumPy/gymnasium 388.2 s, 24.4k env steps/s, mean success 0.7402 ± 0.0000;
  speed-up 125.7x (target >= 100x: met), success difference 0.0000 (target <= 0.02: met).
"""

import argparse
import os
import statistics
import sys

import gymnasium as gym
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from dljax.rl import envs, exact, q_learning

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import threads_line, timed  # noqa: E402

NUM_SEEDS, NUM_EPISODES = 64, 5000
HYPER = dict(gamma=0.99, learning_rate=0.2, learning_rate_end=0.005, epsilon_start=1.0, epsilon_end=0.01,
             epsilon_decay_fraction=0.5, num_episodes=NUM_EPISODES, steps_per_update=100)


def dljax_program():
  config = ml_collections.ConfigDict({"env": {"id": "FrozenLake-v1"},
                                      "agent_config": q_learning.default_agent_config(**HYPER)})
  agent = q_learning.make_train(config)

  def run(keys):
    update = jax.vmap(lambda s: agent.update(s)[0])

    def body(carry):
      states, done_at = update(carry[0]), carry[1]
      return states, jnp.where((done_at == 0) & (states.episodes >= NUM_EPISODES), states.t, done_at)

    states, done_at = jax.lax.while_loop(lambda c: jnp.any(c[0].episodes < NUM_EPISODES), body,
                                         (jax.vmap(agent.init)(keys), jnp.zeros(len(keys), jnp.int32)))
    return states.q, states.t * HYPER["steps_per_update"], done_at * HYPER["steps_per_update"], states.episodes

  return jax.jit(run)


def numpy_q_learning(seed):
  """One seed: the same algorithm, step by step in Python over gymnasium's env; returns (Q, env steps)."""
  env = gym.make("FrozenLake-v1")
  rng = np.random.default_rng(seed)
  q = np.zeros((env.observation_space.n, env.action_space.n))
  num_actions, steps = env.action_space.n, 0
  state, _ = env.reset(seed=seed)
  for episode in range(NUM_EPISODES):
    progress = episode / NUM_EPISODES
    epsilon = HYPER["epsilon_end"] + (HYPER["epsilon_start"] - HYPER["epsilon_end"]) * max(
        0.0, 1.0 - progress / HYPER["epsilon_decay_fraction"])
    alpha = HYPER["learning_rate_end"] + (HYPER["learning_rate"] - HYPER["learning_rate_end"]) * (1.0 - progress)
    done = False
    while not done:
      u = rng.random()
      action = min(int(u / epsilon * num_actions), num_actions - 1) if u < epsilon else int(np.argmax(q[state]))
      next_state, reward, terminated, truncated, _ = env.step(action)
      target = reward + HYPER["gamma"] * (not terminated) * np.max(q[next_state])
      q[state, action] += alpha * (target - q[state, action])
      state, done, steps = next_state, terminated or truncated, steps + 1
    state, _ = env.reset()
  return q, steps


def exact_success(q_tables, params):
  success = exact.goal_rewards(params)
  score = lambda q: exact.from_start(params, exact.evaluate_policy_finite_horizon(
      params, exact.greedy_policy(q), params.max_steps, rewards=success))
  return np.asarray(jax.jit(jax.vmap(score))(jnp.asarray(q_tables, jnp.float32)))


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--peer_seeds", type=int, default=NUM_SEEDS)
  args = parser.parse_args()
  _, params = envs.make("FrozenLake-v1")
  keys = jax.random.split(jax.random.key(0), NUM_SEEDS)

  print(threads_line("the NumPy/gymnasium Q-learner 1 (a sequential Python loop)"))
  program = dljax_program()
  (q, steps, useful, episodes), compile_and_run_s, _ = timed(lambda: jax.block_until_ready(program(keys)))
  times, cpus = [], []
  for _ in range(args.repeats):
    (q, steps, useful, episodes), wall, cpu = timed(lambda: jax.block_until_ready(program(keys)))
    times.append(wall)
    cpus.append(cpu)
  ours_s, ours_cpu = statistics.median(times), statistics.median(cpus)
  assert int(np.min(episodes)) == NUM_EPISODES
  ours_steps = int(np.max(steps)) * NUM_SEEDS  # lockstep: every seed steps until the slowest is done
  ours_useful = int(np.sum(useful))  # each seed's steps until its last episode ended (to the update)
  ours_success = exact_success(q, params)

  def peer():
    peer_q, peer_steps = [], 0
    for seed in range(args.peer_seeds):
      q_seed, n = numpy_q_learning(seed)
      peer_q.append(q_seed)
      peer_steps += n
    return peer_q, peer_steps

  (peer_q, peer_steps), peer_measured_s, peer_measured_cpu = timed(peer)
  peer_s = peer_measured_s * NUM_SEEDS / args.peer_seeds
  peer_cpu = peer_measured_cpu * NUM_SEEDS / args.peer_seeds
  peer_success = exact_success(np.stack(peer_q), params)

  ratio = peer_s / ours_s
  diff = float(ours_success.mean() - peer_success.mean())
  print(f"devices: {jax.devices()}, jax {jax.__version__}, gymnasium {gym.__version__}")
  print("| contender | seeds x episodes | wall time (s) | env steps/s | mean exact success (± s.e.) |")
  print("|---|---|---|---|---|")
  print(f"| dljax, one jit(vmap) program | {NUM_SEEDS} x {NUM_EPISODES} "
        f"| {ours_s:.3f} (compile+run {compile_and_run_s:.1f}) "
        f"| {ours_steps / ours_s:,.0f} ({ours_useful / ours_s:,.0f} counting each seed until its own end) "
        f"| {ours_success.mean():.4f} ± {ours_success.std(ddof=1) / np.sqrt(NUM_SEEDS):.4f} |")
  scaled = ("" if args.peer_seeds == NUM_SEEDS
            else f" (measured {args.peer_seeds} seeds: {peer_measured_s:.1f} s, scaled)")
  print(f"| NumPy Q-learner on gymnasium, sequential | {args.peer_seeds} x {NUM_EPISODES} | {peer_s:.1f}{scaled} "
        f"| {peer_steps / peer_measured_s:,.0f} | {peer_success.mean():.4f} ± "
        f"{peer_success.std(ddof=1) / np.sqrt(len(peer_success)):.4f} |")
  print(f"speed-up dljax / peer: {ratio:.1f}x wall (target >= 100x: {'met' if ratio >= 100 else 'NOT met'}), "
        f"{peer_cpu / ours_cpu:.1f}x CPU time; "
        f"success difference {diff:+.4f} (target |diff| <= 0.02: {'met' if abs(diff) <= 0.02 else 'NOT met'})")
  print("reproduce: python benchmarks/rl_qlearning.py "
        f"--repeats {args.repeats} --peer_seeds {args.peer_seeds}")


if __name__ == "__main__":
  main()
