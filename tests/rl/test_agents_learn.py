"""DQN, PPO and REINFORCE learn CartPole: a short run of each registered experiment through the loop must end
with a greedy policy far better than a uniformly random one, measured here with gymnasium's CartPole-v1 (23.7).

Each run is the experiment's own config with a shorter budget (overrides only, one seed, one chunk, no periodic
checkpoint). Greedy mean returns that chose the budgets (2 CPU cores shared with other jobs, 2026-12-03): through
the loop with seed=0..4, and 16 seeds outside it (one jit per agent, keys as the loop's with num_seeds=1):
  DQN 60k env steps, 4 envs, lr 1e-3, batch 32: loop 500, 241, 500, 500, 498; 16 seeds min 223, mean 425.
    (1 env at 15-20k steps fell to 104-132 on some seeds; 4 envs at 40k to 123-157.)
  PPO 200k env steps: loop 486, 488, 494, 500, 500; 16 seeds min 226, mean 466 (100k: min 204 of 8).
  REINFORCE 100 updates (<= 400k env steps): loop 409, 381, 500, 488, 483; 16 seeds min 337, mean 450.
About 25-30 s of CPU each, most of it compiling (DQN's 15k sequential updates take ~7 s).
"""

import gymnasium as gym
import numpy as np
import pytest

from dljax import config as config_lib
from dljax import registry
from dljax.train import loop

MIN_RETURN = 150.0     # the bar for "clearly learned" (the episode limit is 500)
MIN_RATIO = 5.0        # and at least this many times the random policy's mean return


@pytest.fixture(scope="module")
def random_return():
  """Mean undiscounted return of 100 episodes of uniformly random actions in gymnasium's CartPole-v1."""
  env = gym.make("CartPole-v1")
  rng = np.random.default_rng(0)
  returns = []
  for episode in range(100):
    env.reset(seed=episode)
    total, done = 0.0, False
    while not done:
      _, reward, terminated, truncated, _ = env.step(int(rng.integers(2)))
      total += reward
      done = terminated or truncated
    returns.append(total)
  env.close()
  mean = float(np.mean(returns))
  assert 15.0 <= mean <= 30.0, mean  # the known ~22: the reference itself is sound
  return mean


# log_every_steps = the run's updates (DQN 60000 / 4 envs, PPO 200000 // 512 per rollout): one compiled chunk.
@pytest.mark.parametrize("name, overrides", [
    ("cartpole_dqn", ["agent_config.total_env_steps=60000", "agent_config.num_envs=4",
                      "agent_config.learning_rate=1e-3", "agent_config.batch_size=32", "log_every_steps=15000"]),
    ("cartpole_ppo", ["agent_config.total_env_steps=200000", "log_every_steps=390"]),
    ("cartpole_reinforce", ["agent_config.num_updates=100", "log_every_steps=100"]),
])
def test_short_run_beats_a_random_policy(tmp_path, random_return, name, overrides):
  config = config_lib.apply_overrides(registry.get_config(name),
                                      ["num_seeds=1", "checkpoint_every_steps=0", *overrides])
  summary = loop.train_and_evaluate(config, str(tmp_path))
  assert summary["status"] == "done"
  mean_return = summary["metrics"]["mean_return"]  # greedy policy, full episodes, at most 500 steps
  assert mean_return >= max(MIN_RETURN, MIN_RATIO * random_return), (mean_return, random_return)
