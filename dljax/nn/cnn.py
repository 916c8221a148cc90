"""Convolutional networks: conv blocks (conv, batch norm, activation, pooling, dropout) + a dense head."""

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from dljax.nn import activations


def _crop_even(x):
  n, h, w, c = x.shape
  return x[:, : h // 2 * 2, : w // 2 * 2, :]


def _window_corners(x):
  """The four corners of every 2x2 window of an even-sized NHWC array, in row-major window order."""
  return x[:, 0::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 0::2], x[:, 1::2, 1::2]


def _max_pool_even_fwd(x):
  a, b, c, d = _window_corners(x)
  y = jnp.maximum(jnp.maximum(a, b), jnp.maximum(c, d))
  # Position (0..3, row-major) of the first maximum of each window: select_and_scatter's choice.
  first = jnp.where(a == y, 0, jnp.where(b == y, 1, jnp.where(c == y, 2, 3))).astype(jnp.int8)
  return y, first


def _max_pool_even_bwd(first, g):
  n, h2, w2, c = g.shape
  shape6 = (n, h2, 2, w2, 2, c)
  position = 2 * lax.broadcasted_iota(jnp.int8, shape6, 2) + lax.broadcasted_iota(jnp.int8, shape6, 4)
  dx = jnp.where(position == first[:, :, None, :, None, :], g[:, :, None, :, None, :], jnp.zeros((), g.dtype))
  return (dx.reshape(n, 2 * h2, 2 * w2, c),)


@jax.custom_vjp
def _max_pool_even(x):
  return _max_pool_even_fwd(x)[0]


_max_pool_even.defvjp(_max_pool_even_fwd, _max_pool_even_bwd)


def max_pool_2x2(x):
  """2x2 max pooling, stride 2, VALID (odd trailing rows/columns dropped), on NHWC.

  Values and gradient equal `flax.linen.max_pool(x, (2, 2), (2, 2))` exactly, ties included (the
  whole gradient goes to the first maximum of a window in row-major order). Its gradient is XLA's
  `select_and_scatter`, which on CPU cost half of this CNN's training time; here the forward pass
  saves the int8 position of each window's maximum and the backward pass is one elementwise select
  writing the input-sized gradient (see benchmarks/cnn_throughput.py).
  """
  return _max_pool_even(_crop_even(x))


def avg_pool_2x2(x):
  x = _crop_even(x)
  n, h, w, c = x.shape
  return x.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


POOLS = {"max": max_pool_2x2, "avg": avg_pool_2x2}


class CNN(nn.Module):
  """conv_features[i] blocks of [3x3 conv -> batch norm? -> act -> 2x2 pool -> dropout], then an MLP head.

  With conv_features=(32, 64, 128), batch_norm, conv_dropout=0.25, dense=(512, 256),
  dense_dropout=0.5 this is the report notebook's Fashion-MNIST CNN.
  """
  num_outputs: int
  conv_features: Sequence[int] = (32, 64, 128)
  dense: Sequence[int] = (512, 256)
  pool: str = "max"
  batch_norm: bool = True
  conv_dropout: float = 0.25
  dense_dropout: float = 0.5
  activation: str = "relu"
  bn_momentum: float = 0.9

  @nn.compact
  def __call__(self, x, *, train: bool = False):
    act = activations.get(self.activation)
    if self.pool not in POOLS:
      raise ValueError(f"unknown pool {self.pool!r}; choose one of {sorted(POOLS)}")
    pool = POOLS[self.pool]
    if x.ndim == 3:  # (N, H, W) grey images: add the channel axis.
      x = x[..., None]
    if 2 ** len(self.conv_features) > min(x.shape[1:3]):  # each block halves H and W (floor)
      raise ValueError(f"conv_features={tuple(self.conv_features)} pools {len(self.conv_features)} times, but "
                       f"{x.shape[1]}x{x.shape[2]} images allow at most {int(min(x.shape[1:3])).bit_length() - 1} "
                       "blocks; use fewer conv_features")
    for i, features in enumerate(self.conv_features):
      x = nn.Conv(features, (3, 3), padding="SAME", use_bias=not self.batch_norm, name=f"conv_{i}")(x)
      if self.batch_norm:
        # Eval uses the running averages (use_running_average=not train); train updates them.
        x = nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum, name=f"bn_{i}")(x)
      x = pool(act(x))
      if self.conv_dropout > 0:
        x = nn.Dropout(self.conv_dropout, deterministic=not train)(x)
    x = x.reshape((x.shape[0], -1))
    for i, width in enumerate(self.dense):
      x = act(nn.Dense(width, name=f"dense_{i}")(x))
      if self.dense_dropout > 0:
        x = nn.Dropout(self.dense_dropout, deterministic=not train)(x)
    return nn.Dense(self.num_outputs, name="head")(x)


def conv_flops_per_example(module: CNN, input_shape) -> int:
  """Multiply-adds x 2 of one forward pass (convs + dense layers), for throughput reports."""
  h, w, c = input_shape
  flops = 0
  for features in module.conv_features:
    flops += 2 * h * w * 9 * c * features
    c = features
    h, w = h // 2, w // 2
  width = h * w * c
  for d in list(module.dense) + [module.num_outputs]:
    flops += 2 * width * d
    width = d
  return flops
