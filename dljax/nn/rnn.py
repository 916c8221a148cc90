"""Recurrent networks: Elman RNN, LSTM and GRU cells, and a stacked sequence model with a linear head.

Gate layouts and the two bias vectors follow PyTorch's `nn.RNN`/`nn.LSTM`/`nn.GRU`, so weights map one to
one (tests/nn/test_rnn.py checks outputs against PyTorch with copied weights). For a sequence x_1..x_T:

  Elman:  h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
  LSTM (Hochreiter & Schmidhuber 1997; forget gate: Gers et al. 2000):
          [i, f, g, o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
          c_t = σ(f) ⊙ c_{t-1} + σ(i) ⊙ tanh(g),   h_t = σ(o) ⊙ tanh(c_t)
  GRU (Cho et al. 2014, with the reset gate applied after W_hn as in cuDNN and PyTorch):
          [r, z] = σ(W_i{r,z} x_t + b_i{r,z} + W_h{r,z} h_{t-1} + b_h{r,z})
          n_t = tanh(W_in x_t + b_in + r ⊙ (W_hn h_{t-1} + b_hn)),   h_t = (1 - z) ⊙ n_t + z ⊙ h_{t-1}

The input projections W_ih x_t of all time steps are one matmul before the scan (they do not depend on
h); only W_hh h_{t-1} and the gates run inside `nn.scan`, which compiles the step once for any T.
"""

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

# Gate blocks per cell: the width of W_ih and W_hh is GATES * hidden.
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def elman_update(carry, x_proj, h_proj):
  """One Elman step from the two projections; carry = h."""
  del carry
  h = jnp.tanh(x_proj + h_proj)
  return h, h


def lstm_update(carry, x_proj, h_proj):
  """One LSTM step; carry = (c, h)."""
  c, _ = carry
  i, f, g, o = jnp.split(x_proj + h_proj, 4, axis=-1)
  c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
  h = jax.nn.sigmoid(o) * jnp.tanh(c)
  return (c, h), h


def gru_update(carry, x_proj, h_proj):
  """One GRU step; carry = h. The reset gate multiplies W_hn h + b_hn, not h (PyTorch's variant)."""
  h = carry
  x_r, x_z, x_n = jnp.split(x_proj, 3, axis=-1)
  h_r, h_z, h_n = jnp.split(h_proj, 3, axis=-1)
  r, z = jax.nn.sigmoid(x_r + h_r), jax.nn.sigmoid(x_z + h_z)
  n = jnp.tanh(x_n + r * h_n)
  h = (1.0 - z) * n + z * h
  return h, h


UPDATES = {"rnn": elman_update, "lstm": lstm_update, "gru": gru_update}


def initial_carry(cell: str, batch: int, hidden: int, dtype=jnp.float32):
  zeros = jnp.zeros((batch, hidden), dtype)
  return (zeros, zeros) if cell == "lstm" else zeros


def _forget_bias_one(hidden: int):
  """LSTM bias init: 1 on the forget gate's block (Jozefowicz et al. 2015), so cells remember at first."""
  def init(key, shape, dtype=jnp.float32):
    del key
    return jnp.zeros(shape, dtype).at[hidden:2 * hidden].set(1)
  return init


class _Recurrence(nn.Module):
  """W_hh h_{t-1} + b_hh and the cell's update, for one time step (scanned over time)."""
  cell: str
  hidden: int
  kernel_init: Callable
  bias_init: Callable

  @nn.compact
  def __call__(self, carry, x_proj):
    h = carry[1] if self.cell == "lstm" else carry
    h_proj = nn.Dense(GATES[self.cell] * self.hidden, kernel_init=self.kernel_init, bias_init=self.bias_init,
                      name="hh")(h)
    return UPDATES[self.cell](carry, x_proj, h_proj)


def initializers(weight_init: str, cell: str, hidden: int) -> dict:
  """Kernel and bias initialisers of W_ih, W_hh (and b_ih, b_hh) for `weight_init`:

  "lecun": LeCun-normal W_ih, orthogonal W_hh (Saxe et al. 2014), zero biases but the LSTM forget gate's 1
           (Jozefowicz et al. 2015) -- flax's and Keras' recurrent defaults;
  "uniform": every weight and bias ~ U(-1/sqrt(hidden), 1/sqrt(hidden)), PyTorch's nn.RNN/LSTM/GRU default.
  """
  if weight_init == "uniform":
    bound = hidden ** -0.5
    u = lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -bound, bound)
    return dict(ih_kernel=u, ih_bias=u, hh_kernel=u, hh_bias=u)
  if weight_init == "lecun":
    bias = _forget_bias_one(hidden) if cell == "lstm" else nn.initializers.zeros
    return dict(ih_kernel=nn.initializers.lecun_normal(), ih_bias=bias, hh_kernel=nn.initializers.orthogonal(),
                hh_bias=nn.initializers.zeros)
  raise ValueError(f"weight_init={weight_init!r}: choose lecun or uniform")


class RecurrentLayer(nn.Module):
  """One recurrent layer over (batch, time, features) -> all hidden states (batch, time, hidden)."""
  cell: str
  hidden: int
  weight_init: str = "lecun"

  @nn.compact
  def __call__(self, x):
    if self.cell not in GATES:
      raise ValueError(f"cell={self.cell!r}: choose one of {', '.join(GATES)}")
    inits = initializers(self.weight_init, self.cell, self.hidden)
    x_proj = nn.Dense(GATES[self.cell] * self.hidden, kernel_init=inits["ih_kernel"], bias_init=inits["ih_bias"],
                      name="ih")(x)
    scan = nn.scan(_Recurrence, variable_broadcast="params", split_rngs={"params": False},
                   in_axes=1, out_axes=1)
    carry = initial_carry(self.cell, x.shape[0], self.hidden, x_proj.dtype)
    recurrence = scan(cell=self.cell, hidden=self.hidden, kernel_init=inits["hh_kernel"], bias_init=inits["hh_bias"],
                      name="recurrence")
    _, hs = recurrence(carry, x_proj)
    return hs


class RecurrentNet(nn.Module):
  """Stacked recurrent layers; the last layer's final hidden state -> a linear head.

  x: (batch, time) of scalars or (batch, time, features). Dropout between layers (Zaremba et al. 2014:
  on the non-recurrent connections only) and before the head.
  """
  num_outputs: int
  cell: str = "lstm"
  hidden: int = 64
  num_layers: int = 1
  dropout: float = 0.0
  weight_init: str = "lecun"   # or "uniform" (PyTorch's default); see `initializers`

  @nn.compact
  def __call__(self, x, *, train: bool = False):
    if x.ndim == 2:
      x = x[..., None]
    for layer in range(self.num_layers):
      if layer and self.dropout > 0:
        x = nn.Dropout(self.dropout, deterministic=not train)(x)
      x = RecurrentLayer(self.cell, self.hidden, self.weight_init, name=f"layer_{layer}")(x)
    last = x[:, -1]
    if self.dropout > 0:
      last = nn.Dropout(self.dropout, deterministic=not train)(last)
    if self.weight_init == "uniform":  # nn.Linear's default: U(±1/sqrt(fan_in)) for weight and bias
      u = initializers("uniform", self.cell, self.hidden)["ih_kernel"]
      return nn.Dense(self.num_outputs, kernel_init=u, bias_init=u, name="head")(last)
    return nn.Dense(self.num_outputs, name="head")(last)
