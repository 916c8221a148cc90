"""CartPole-v1 (our JAX port of gymnasium's physics): DQN, REINFORCE with a baseline, PPO; 5 seeds vmapped.

Metrics (summary.json): mean_return = mean over seeds and over each seed's greedy evaluation episodes (full
episodes, at most 500 steps), mean_return_stderr = its standard error over seeds.
"""

import ml_collections

from dljax.registry import register
from dljax.rl import dqn, ppo, reinforce


def _cartpole_config(agent: str, agent_config: ml_collections.ConfigDict, log_every_steps: int,
                     checkpoint_every_steps: int) -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.trainer = "rl"
  c.agent = agent
  c.env = ml_collections.ConfigDict({"id": "CartPole-v1"})
  c.agent_config = agent_config
  c.seed = 0
  c.num_seeds = 5
  c.log_every_steps = log_every_steps
  c.eval_every_steps = 0
  c.checkpoint_every_steps = checkpoint_every_steps
  c.keep_checkpoints = 2
  return c


@register("cartpole_dqn", kind="rl", dataset="CartPole-v1",
          description="DQN (replay buffer, target net, eps schedule, Huber, Adam), 100k env steps x 5 seeds")
def cartpole_dqn():
  """Double DQN, MLP 64-64 with LayerNorm before each ReLU (Gallici et al. 2024, PQN; Lyle et al. 2024),
  5-step returns (Sutton & Barto 2018 eq. 7.1), one Adam step per env step, Polyak target, 100k env steps.

  Run: dljax run cartpole_dqn --workdir /tmp/cartpole_dqn
  Result: mean_return 500.0 ± 0.0 (stderr over 5 seeds: every greedy episode of every seed reaches the
  500-step limit; target 475 met), 87 s of training, 95 s wall, on 2 CPU cores shared with other jobs (2026-11-25).
  """
  return _cartpole_config("dqn", dqn.default_agent_config(), log_every_steps=10_000, checkpoint_every_steps=20_000)


@register("cartpole_reinforce", kind="rl", dataset="CartPole-v1",
          description="REINFORCE with a learned value baseline, 8 episodes per update, <= 500k env steps x 5 seeds")
def cartpole_reinforce():
  """REINFORCE with a value baseline, MLP 64-64 tanh, 8 full episodes per Adam step, at most 500k env steps.

  Run: dljax run cartpole_reinforce --workdir /tmp/cartpole_reinforce
  Result: mean_return 498.1 ± 1.2 (stderr over 5 seeds) using 498,721 env steps per seed on average (the 500k budget
  stops the updates between update 300 and 400 of the 500), 98 s wall (68 s training) on 2 CPU cores, no accelerator
  (2026-11-25, cores shared with other jobs).
  """
  return _cartpole_config("reinforce", reinforce.default_agent_config(), log_every_steps=100,
                          checkpoint_every_steps=250)


@register("cartpole_ppo", kind="rl", dataset="CartPole-v1",
          description="PPO (GAE, clipped objective, 4 vectorised envs), 500k env steps x 5 seeds")
def cartpole_ppo():
  """PPO with PureJaxRL's CartPole hyper-parameters: 4 envs x 128 steps, 4 epochs x 4 minibatches, 500k env steps.

  Run: dljax run cartpole_ppo --workdir /tmp/cartpole_ppo
  Result: mean_return 500.0 ± 0.0 (every seed's 10 greedy episodes reach the 500-step limit), 499,712 env steps
  per seed, 87 s wall (53 s training) on 2 CPU cores, no accelerator (2026-11-25, cores shared with other jobs).
  """
  return _cartpole_config("ppo", ppo.default_agent_config(), log_every_steps=122, checkpoint_every_steps=244)
