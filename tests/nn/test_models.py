import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dljax.nn import CNN, MLP, LogisticRegression
from dljax.nn.cnn import avg_pool_2x2, conv_flops_per_example, max_pool_2x2


def _init_apply(model, x):
  variables = model.init({"params": jax.random.key(0), "dropout": jax.random.key(1)}, x, train=False)
  return variables, model.apply(variables, x, train=False)


def test_logistic_regression_is_affine_softmax():
  x = np.random.RandomState(0).randn(5, 8, 8, 1).astype(np.float32)
  variables, logits = _init_apply(LogisticRegression(num_outputs=10), x)
  w, b = variables["params"]["linear"]["kernel"], variables["params"]["linear"]["bias"]
  np.testing.assert_allclose(logits, x.reshape(5, -1) @ np.asarray(w) + np.asarray(b), rtol=1e-5, atol=1e-5)


def test_mlp_shapes_and_formula():
  x = np.random.RandomState(0).randn(4, 6).astype(np.float32)
  model = MLP(hidden=(7,), num_outputs=3, activation="sigmoid")
  variables, out = _init_apply(model, x)
  p = jax.tree.map(np.asarray, variables["params"])
  h = 1 / (1 + np.exp(-(x @ p["dense_0"]["kernel"] + p["dense_0"]["bias"])))
  np.testing.assert_allclose(out, h @ p["head"]["kernel"] + p["head"]["bias"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape,conv,out", [((2, 28, 28, 1), (32, 64, 128), 10), ((3, 8, 8, 1), (32, 64), 10)])
def test_cnn_output_shape(shape, conv, out):
  model = CNN(num_outputs=out, conv_features=conv)
  _, logits = _init_apply(model, jnp.ones(shape))
  assert logits.shape == (shape[0], out)


def test_cnn_dropout_only_in_training():
  model = CNN(num_outputs=10, conv_features=(8,), dense=(16,))
  x = jnp.asarray(np.random.RandomState(0).rand(4, 8, 8, 1), jnp.float32)
  variables, eval_out = _init_apply(model, x)
  again = model.apply(variables, x, train=False)
  np.testing.assert_array_equal(eval_out, again)
  train_a, _ = model.apply(variables, x, train=True, rngs={"dropout": jax.random.key(1)}, mutable=["batch_stats"])
  train_b, _ = model.apply(variables, x, train=True, rngs={"dropout": jax.random.key(2)}, mutable=["batch_stats"])
  assert not np.allclose(train_a, train_b)


def test_pools_match_reduce_window_values_and_max_gradient():
  x = jnp.asarray(np.random.RandomState(0).randn(2, 7, 9, 3), jnp.float32)  # odd sizes: VALID drops the rest
  np.testing.assert_allclose(max_pool_2x2(x), nn.max_pool(x, (2, 2), (2, 2)), rtol=0, atol=0)
  np.testing.assert_allclose(avg_pool_2x2(x), nn.avg_pool(x, (2, 2), (2, 2)), rtol=1e-6)
  # With no ties, the gradient is the reduce_window (select_and_scatter) gradient exactly.
  g = jax.grad(lambda v: (max_pool_2x2(v) ** 2).sum())(x)
  g_ref = jax.grad(lambda v: (nn.max_pool(v, (2, 2), (2, 2)) ** 2).sum())(x)
  np.testing.assert_allclose(g, g_ref, rtol=1e-6)


def test_flop_count_of_notebook_cnn():
  model = CNN(num_outputs=10)
  # conv: 2·H·W·9·Cin·Cout at 28, 14, 7; dense: 2·(3·3·128)·512 + 2·512·256 + 2·256·10
  expected = 2 * 9 * (28 * 28 * 1 * 32 + 14 * 14 * 32 * 64 + 7 * 7 * 64 * 128) + 2 * (1152 * 512 + 512 * 256 + 256 * 10)
  assert conv_flops_per_example(model, (28, 28, 1)) == expected
