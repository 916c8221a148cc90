import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dljax.nn import CNN, MLP, LogisticRegression
from dljax.nn.cnn import POOLS, avg_pool_2x2, conv_flops_per_example, max_pool_2x2


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
  g = jax.grad(lambda v: (max_pool_2x2(v) ** 2).sum())(x)
  g_ref = jax.grad(lambda v: (nn.max_pool(v, (2, 2), (2, 2)) ** 2).sum())(x)
  np.testing.assert_array_equal(g, g_ref)


def _max_pool_grad_numpy(x, g):
  """select_and_scatter's rule: each window's gradient goes to its first maximum, row-major."""
  n, h, w, c = x.shape
  dx = np.zeros_like(x)
  for b, i, j, k in np.ndindex(n, h // 2, w // 2, c):
    window = x[b, 2 * i:2 * i + 2, 2 * j:2 * j + 2, k].reshape(-1)
    di, dj = divmod(int(np.argmax(window)), 2)  # np.argmax returns the first maximum
    dx[b, 2 * i + di, 2 * j + dj, k] = g[b, i, j, k]
  return dx


def test_max_pool_gradient_with_ties_matches_select_and_scatter_and_numpy():
  rng = np.random.RandomState(0)
  # After ReLU whole windows tie at 0; rounding to a coarse grid makes ties between positives too.
  x = np.maximum(np.round(rng.randn(3, 8, 6, 4) * 2) / 2, 0).astype(np.float32)
  g = rng.randn(3, 4, 3, 4).astype(np.float32)
  dx = jax.vjp(max_pool_2x2, jnp.asarray(x))[1](jnp.asarray(g))[0]
  dx_ref = jax.vjp(lambda v: nn.max_pool(v, (2, 2), (2, 2)), jnp.asarray(x))[1](jnp.asarray(g))[0]
  np.testing.assert_array_equal(dx, dx_ref)
  np.testing.assert_array_equal(dx, _max_pool_grad_numpy(x, g))


def test_cnn_training_gradients_match_flax_max_pool():
  """The whole CNN with our pooling vs `nn.max_pool`: same loss and parameter gradients."""
  x = jnp.asarray(np.random.RandomState(0).rand(4, 28, 28, 1), jnp.float32)
  model = CNN(num_outputs=10, conv_dropout=0.0, dense_dropout=0.0)
  variables = model.init({"params": jax.random.key(0)}, x, train=False)

  def loss(params, pool_fn):
    with pytest.MonkeyPatch.context() as mp:
      mp.setitem(POOLS, "max", pool_fn)
      out, _ = model.apply({"params": params, "batch_stats": variables["batch_stats"]}, x, train=True,
                           mutable=["batch_stats"])
    return (out ** 2).mean()

  ours = jax.value_and_grad(loss)(variables["params"], max_pool_2x2)
  ref = jax.value_and_grad(loss)(variables["params"], lambda v: nn.max_pool(v, (2, 2), (2, 2)))
  np.testing.assert_allclose(ours[0], ref[0], rtol=1e-6)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), ours[1], ref[1])


def test_flop_count_of_notebook_cnn():
  model = CNN(num_outputs=10)
  # conv: 2·H·W·9·Cin·Cout at 28, 14, 7; dense: 2·(3·3·128)·512 + 2·512·256 + 2·256·10
  expected = 2 * 9 * (28 * 28 * 1 * 32 + 14 * 14 * 32 * 64 + 7 * 7 * 64 * 128) + 2 * (1152 * 512 + 512 * 256 + 256 * 10)
  assert conv_flops_per_example(model, (28, 28, 1)) == expected
