"""dljax.nn.rnn against PyTorch's nn.RNN / nn.LSTM / nn.GRU with the same weights, and against numpy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from dljax.nn import rnn

TORCH_LAYERS = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def _init(model, x, seed=0):
  return jax.jit(model.init)(jax.random.key(seed), x)["params"]


def _torch_layers(params, cell, input_size, hidden, num_layers):
  """A PyTorch stack holding our weights: its W is our kernel transposed, its two biases are ours."""
  net = TORCH_LAYERS[cell](input_size, hidden, num_layers=num_layers, batch_first=True)
  with torch.no_grad():
    for k in range(num_layers):
      layer = params[f"layer_{k}"]
      ours = {"weight_ih": layer["ih"]["kernel"].T, "bias_ih": layer["ih"]["bias"],
              "weight_hh": layer["recurrence"]["hh"]["kernel"].T, "bias_hh": layer["recurrence"]["hh"]["bias"]}
      for name, value in ours.items():
        getattr(net, f"{name}_l{k}").copy_(torch.tensor(np.asarray(value)))
  return net


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_hidden_states_and_head_equal_pytorch(cell, num_layers):
  x = np.random.RandomState(1).randn(3, 17, 5).astype(np.float32)
  model = rnn.RecurrentNet(num_outputs=2, cell=cell, hidden=8, num_layers=num_layers)
  params = _init(model, x)
  theirs, _ = _torch_layers(params, cell, 5, 8, num_layers)(torch.tensor(x))
  head = params["head"]
  expected = theirs[:, -1].detach().numpy() @ np.asarray(head["kernel"]) + np.asarray(head["bias"])
  np.testing.assert_allclose(np.asarray(jax.jit(model.apply)({"params": params}, x)), expected,
                             rtol=1e-5, atol=1e-5)
  # Every time step of the first layer, not only the last one.
  layer = rnn.RecurrentLayer(cell, 8)
  hs = layer.apply({"params": params["layer_0"]}, x)
  first, _ = _torch_layers(params, cell, 5, 8, 1)(torch.tensor(x))
  np.testing.assert_allclose(np.asarray(hs), first.detach().numpy(), rtol=1e-5, atol=1e-5)


def test_lstm_step_equals_the_equations_in_numpy():
  rng = np.random.RandomState(0)
  hidden = 3
  x_proj, h_proj = rng.randn(2, 4 * hidden), rng.randn(2, 4 * hidden)
  c0, h0 = rng.randn(2, hidden), rng.randn(2, hidden)
  sigmoid = lambda v: 1 / (1 + np.exp(-v))
  i, f, g, o = np.split(x_proj + h_proj, 4, axis=-1)
  c = sigmoid(f) * c0 + sigmoid(i) * np.tanh(g)
  (c_ours, h_ours), out = rnn.lstm_update((jnp.asarray(c0), jnp.asarray(h0)), jnp.asarray(x_proj),
                                          jnp.asarray(h_proj))
  np.testing.assert_allclose(c_ours, c, rtol=1e-6)
  np.testing.assert_allclose(h_ours, sigmoid(o) * np.tanh(c), rtol=1e-6)
  np.testing.assert_array_equal(out, h_ours)


def test_lstm_forget_bias_starts_at_one_and_scalar_sequences_get_a_feature_axis():
  model = rnn.RecurrentNet(num_outputs=1, cell="lstm", hidden=4)
  x = jnp.ones((2, 6))  # (batch, time) of scalars
  params = _init(model, x)
  np.testing.assert_array_equal(params["layer_0"]["ih"]["bias"], [0] * 4 + [1] * 4 + [0] * 8)
  assert params["layer_0"]["ih"]["kernel"].shape == (1, 16)
  assert model.apply({"params": params}, x).shape == (2, 1)


def test_gradients_flow_to_every_weight_through_time():
  x = np.random.RandomState(2).randn(4, 12, 3).astype(np.float32)
  for cell in rnn.GATES:
    model = rnn.RecurrentNet(num_outputs=1, cell=cell, hidden=5, num_layers=2)
    params = _init(model, x)
    grads = jax.jit(jax.grad(lambda p: jnp.sum(model.apply({"params": p}, x) ** 2)))(params)
    for path, g in jax.tree_util.tree_flatten_with_path(grads)[0]:
      assert np.all(np.isfinite(g)) and np.abs(g).max() > 0, (cell, path)


def test_unknown_cell_names_the_choices():
  with pytest.raises(ValueError, match="rnn, lstm, gru"):
    _init(rnn.RecurrentNet(num_outputs=1, cell="transformer"), jnp.ones((1, 3, 1)))


def test_uniform_init_is_pytorchs_bound_and_lecun_keeps_the_forget_bias():
  x = jnp.ones((2, 6, 3))
  for cell in rnn.GATES:
    params = _init(rnn.RecurrentNet(num_outputs=1, cell=cell, hidden=16, weight_init="uniform"), x)
    leaves = jax.tree.leaves(params)
    assert all(np.abs(np.asarray(v)).max() <= 0.25 for v in leaves)  # U(±1/sqrt(16))
    assert all(np.std(np.asarray(v)) > 0.25 / 3 for v in leaves if v.size >= 16)  # uniform std: 0.25/sqrt(3)
  with pytest.raises(ValueError, match="lecun or uniform"):
    _init(rnn.RecurrentNet(num_outputs=1, weight_init="xavier"), x)
