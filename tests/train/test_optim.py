import math

import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from dljax.errors import UserError
from dljax.train import optim


def _cfg(**kw):
  base = dict(name="sgd", learning_rate=0.1, schedule="constant", warmup_steps=0, momentum=0.9, nesterov=False,
              weight_decay=0.0, grad_clip_norm=ml_collections.FieldReference(None, field_type=float))
  base.update(kw)
  return ml_collections.ConfigDict(base)


def test_warmup_cosine_schedule_formula():
  schedule = optim.make_schedule(_cfg(schedule="warmup_cosine", warmup_steps=10, learning_rate=1.0), 110)
  for t in (0, 5, 10, 60, 110):
    # linear warmup to the peak, then lr·(1 + cos(π·(t - w)/(T - w)))/2
    expected = t / 10 if t < 10 else 0.5 * (1 + math.cos(math.pi * (t - 10) / 100))
    np.testing.assert_allclose(float(schedule(t)), expected, atol=1e-6)


def test_sgd_step_and_global_norm_clipping():
  tx = optim.make_optimizer(_cfg(grad_clip_norm=1.0), 10)
  params = {"a": jnp.array([1.0, 2.0]), "b": jnp.array(3.0)}
  grads = {"a": jnp.array([3.0, 0.0]), "b": jnp.array(4.0)}  # global norm 5 -> scaled by 1/5
  updates, _ = tx.update(grads, tx.init(params), params)
  np.testing.assert_allclose(updates["a"], [-0.1 * 0.6, 0.0], rtol=1e-6)
  np.testing.assert_allclose(updates["b"], -0.1 * 0.8, rtol=1e-6)


def test_coupled_weight_decay_for_sgd():
  tx = optim.make_optimizer(_cfg(weight_decay=0.5), 10)
  params = {"w": jnp.array([2.0])}
  updates, _ = tx.update({"w": jnp.array([1.0])}, tx.init(params), params)
  np.testing.assert_allclose(updates["w"], [-0.1 * (1.0 + 0.5 * 2.0)], rtol=1e-6)  # g + λw


@pytest.mark.parametrize("name", ["momentum", "adam", "adamw"])
def test_every_optimizer_builds_and_descends(name):
  tx = optim.make_optimizer(_cfg(name=name, weight_decay=1e-4), 10)
  params = {"w": jnp.array([1.0, -1.0])}
  updates, _ = tx.update({"w": jnp.array([1.0, -1.0])}, tx.init(params), params)
  assert (np.sign(updates["w"]) == [-1, 1]).all()


def test_unknown_optimizer_and_schedule():
  with pytest.raises(UserError, match="optimizer.name"):
    optim.make_optimizer(_cfg(name="lion"), 10)
  with pytest.raises(UserError, match="optimizer.schedule"):
    optim.make_optimizer(_cfg(schedule="step"), 10)
