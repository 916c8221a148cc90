"""The "rl" trainer through the real train_and_evaluate path and the CLI: a few updates, distinct
seed keys, exact resume, bad input."""

import json

import jax
import numpy as np
import pytest

from dljax import cli
from dljax import config as config_lib
from dljax import parallel, registry
from dljax.train import checkpoint as ckpt_lib
from dljax.train import loop, rl_trainer

TINY = ["num_seeds=4", "agent_config.num_episodes=30", "agent_config.num_env_steps=2000",
        "agent_config.steps_per_update=100", "log_every_steps=5", "checkpoint_every_steps=10"]


def _config(*extra):
  return config_lib.apply_overrides(registry.get_config("frozenlake_qlearning"), TINY + list(extra))


def _final_state(workdir):
  config = _config()
  trainer = rl_trainer.RLTrainer(config, parallel.make_mesh(), jax.random.key(config.seed))
  abstract = ckpt_lib.abstract_like(trainer.init_state())
  step, state, _ = ckpt_lib.Checkpointer(str(workdir / "checkpoints")).restore_latest(abstract)
  return step, state


def test_few_updates_through_the_loop_then_resume_equals_uninterrupted(tmp_path):
  straight = loop.train_and_evaluate(_config(), str(tmp_path / "a"))
  assert straight["status"] == "done" and straight["steps"] == 20
  metrics = json.load(open(tmp_path / "a" / "summary.json"))["metrics"]
  for name in ("mean_return", "mean_return_stderr", "success_rate", "success_rate_stderr"):
    assert np.isfinite(metrics[name])
  assert 0.0 <= metrics["success_rate"] <= 0.7442 + 1e-6  # never above the optimum
  assert metrics["success_rate"] == metrics["mean_return"]  # FrozenLake: return 1 exactly on success
  assert metrics["episodes"] == 30.0

  paused = loop.train_and_evaluate(_config(), str(tmp_path / "b"), stop_at_step=10)
  assert paused["status"] == "paused"
  resumed = loop.train_and_evaluate(_config(), str(tmp_path / "b"))
  assert resumed["metrics"] == straight["metrics"]
  (step_a, a), (step_b, b) = _final_state(tmp_path / "a"), _final_state(tmp_path / "b")
  assert step_a == step_b == 20
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))  # bit-exact, keys included
  train_lines = lambda d: [l for l in map(json.loads, open(d / "metrics.jsonl")) if l["split"] == "train"]
  strip = lambda lines: [{k: v for k, v in l.items() if k != "time"} for l in lines]
  assert strip(train_lines(tmp_path / "a")) == strip(train_lines(tmp_path / "b"))


def test_seed_keys_are_distinct_and_runs_differ():
  config = _config()
  trainer = rl_trainer.RLTrainer(config, parallel.make_mesh(), jax.random.key(config.seed))
  keys = np.asarray(jax.random.key_data(trainer.seed_keys))
  assert len({k.tobytes() for k in keys}) == 4
  state, result = trainer.train(trainer.init_state(), 3)
  assert result.metrics["td_error"].shape == (3,) and int(state.step) == 3
  # Each seed's own trajectory: its Q table, position, step in episode and episode count.
  runner = state.runner
  leaves = [runner.q.reshape(4, -1), runner.obs[:, None], runner.env_state.time[:, None], runner.episodes[:, None]]
  rows = np.concatenate([np.asarray(x, np.float64) for x in leaves], axis=1)
  assert len({row.tobytes() for row in rows}) == 4


@pytest.mark.parametrize("override,needle", [
    ("--config.env.id=FrozenPond-v0", "unknown env id 'FrozenPond-v0'"),
    ("--config.agent_config.gamma=1.5", "a number in [0, 1]"),
    ("--config.agent=sarsa_lambda", "no module dljax.rl.sarsa_lambda"),
    ("--config.num_seeds=0", "num_seeds=0"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, override, needle):
  code = cli.main(["run", "frozenlake_qlearning", "--workdir", str(tmp_path / "w"), override])
  err = capsys.readouterr().err.strip()
  assert code == 2 and err.startswith("dljax: error: ") and "\n" not in err and needle in err, err
  assert not (tmp_path / "w").exists()


def test_shaping_ablation_writes_its_table_and_plot(tmp_path):
  config = config_lib.apply_overrides(registry.get_config("frozenlake_shaping"), [
      "num_seeds=4", "agent_config.num_episodes=40", "agent_config.num_env_steps=1000", "log_every_steps=5",
      "eval_every_steps=5", "checkpoint_every_steps=10"])
  with config.unlocked():
    config.variants = {"none": {}, "goal_bonus": {"shaping": {"goal_bonus": 1.0}}}
  summary = loop.train_and_evaluate(config, str(tmp_path))
  metrics = summary["metrics"]
  # A goal bonus of +1 on a 0/1 goal reward doubles every reward, hence every Q value exactly (Q starts
  # at 0): the same greedy choices, the same runs, the same success.
  assert metrics["goal_bonus/success_rate"] == metrics["none/success_rate"]
  assert metrics["none/optimal_policy_success"] == pytest.approx(0.7402, abs=1e-4)
  table = (tmp_path / "ablation.md").read_text().splitlines()
  assert len(table) == 4 and table[2].startswith("| none |") and table[3].startswith("| goal_bonus |")
  assert (tmp_path / "ablation.csv").read_text().count("\n") == 3
  assert (tmp_path / "ablation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
