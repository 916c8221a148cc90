"""Reinforcement learning in pure JAX: environments (dljax.rl.envs) and agents, one module each
(q_learning, dqn, reinforce, ppo), each with `make_train(config) -> dljax.rl.agent.Agent`."""
