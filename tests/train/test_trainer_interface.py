"""The loop drives any Trainer: here an RL-style one whose training is one scanned program vmapped
over seeds (the shape issue-5 agents take), checkpointed and resumed between chunks."""

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from dljax import parallel
from dljax.tasks import Evaluation
from dljax.train import loop, trainers


class _SeedsState(flax.struct.PyTreeNode):
  step: jnp.ndarray
  w: jnp.ndarray  # (num_seeds, d): one linear model per seed


class ScannedSeedsTrainer(trainers.Trainer):
  """Noisy gradient descent on least squares, `num_seeds` runs vmapped, n steps per `lax.scan` call."""

  def __init__(self, config, mesh, key):
    self.config, self.mesh, self.key = config, mesh, key
    self.num_steps, self.examples_per_step = config.num_train_steps, config.num_seeds
    rng = np.random.RandomState(0)
    self.x = jnp.asarray(rng.randn(64, 3), jnp.float32)
    self.y = self.x @ jnp.array([1.0, -2.0, 0.5])

  def init_state(self):
    return parallel.replicate(self.mesh, _SeedsState(step=jnp.int32(0), w=jnp.zeros((self.config.num_seeds, 3))))

  def train(self, state, num_steps):
    seed_keys = jax.random.split(self.key, self.config.num_seeds)

    def one_seed(w, key, start):
      def body(w, t):
        noise = 0.01 * jax.random.normal(jax.random.fold_in(key, start + t), w.shape)
        grad = self.x.T @ (self.x @ w - self.y) / len(self.y)
        w = w - 0.1 * grad + noise
        return w, jnp.mean((self.x @ w - self.y) ** 2)
      return jax.lax.scan(body, w, jnp.arange(num_steps))

    w, losses = jax.jit(jax.vmap(one_seed, in_axes=(0, 0, None)))(state.w, seed_keys, state.step)
    return state.replace(step=state.step + num_steps, w=w), trainers.TrainResult({"loss": losses.T})  # (steps, seeds)

  def evaluate(self, state):
    return Evaluation({"mse": float(jnp.mean((jnp.einsum("nd,sd->sn", self.x, state.w) - self.y) ** 2))})


def _config():
  c = ml_collections.ConfigDict(dict(experiment="scanned_test", kind="rl", trainer="test_scanned_seeds", seed=3,
                                     num_seeds=4, num_train_steps=40, log_every_steps=10, eval_every_steps=20,
                                     checkpoint_every_steps=10, keep_checkpoints=2))
  c.lock()
  return c


def test_loop_drives_a_vmapped_scanned_trainer_and_resumes_exactly(tmp_path, monkeypatch):
  monkeypatch.setitem(trainers.TRAINERS, "test_scanned_seeds", f"{__name__}:ScannedSeedsTrainer")
  straight = loop.train_and_evaluate(_config(), str(tmp_path / "a"))
  assert straight["status"] == "done" and straight["steps"] == 40 and straight["metrics"]["mse"] < 0.01
  assert loop.train_and_evaluate(_config(), str(tmp_path / "b"), stop_at_step=20)["status"] == "paused"
  resumed = loop.train_and_evaluate(_config(), str(tmp_path / "b"))
  assert resumed["metrics"] == straight["metrics"]
