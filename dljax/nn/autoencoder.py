"""Autoencoders: an encoder maps x to a low-dimensional code z, a decoder maps z back to x̂ ≈ x.

Trained to minimise the reconstruction error ‖x − x̂‖² on data of one distribution, an autoencoder
reconstructs that distribution well and other inputs badly, which makes ‖x − x̂‖² an anomaly score.
Both models take images (N, H, W) or (N, H, W, C) in [0, 1] and return x̂ of the same shape, squashed by a
sigmoid into [0, 1]; `encode` and `decode` expose the two halves.
"""

import math
from typing import Sequence

import flax.linen as nn

from dljax.nn import activations


def _with_channels(x):
  return x[..., None] if x.ndim == 3 else x


class DenseAutoencoder(nn.Module):
  """x ↦ flatten ↦ Dense(widths[0]) … Dense(widths[-1]) ↦ z = Dense(latent) ↦ mirrored decoder ↦ σ ↦ x̂.
  """
  image_shape: Sequence[int]           # (H, W, C) of one example
  widths: Sequence[int] = (512, 128)   # units of the encoder's hidden layers (the decoder mirrors them)
  latent: int = 32
  activation: str = "relu"

  def setup(self):
    self.encoder_layers = [nn.Dense(width, name=f"enc_{i}") for i, width in enumerate(self.widths)]
    self.code = nn.Dense(self.latent, name="code")
    self.decoder_layers = [nn.Dense(width, name=f"dec_{i}") for i, width in enumerate(reversed(self.widths))]
    self.output = nn.Dense(math.prod(self.image_shape), name="output")

  def encode(self, x):
    act = activations.get(self.activation)
    h = _with_channels(x).reshape((x.shape[0], -1))
    for layer in self.encoder_layers:
      h = act(layer(h))
    return self.code(h)

  def decode(self, z):
    act = activations.get(self.activation)
    h = z
    for layer in self.decoder_layers:
      h = act(layer(h))
    return nn.sigmoid(self.output(h)).reshape((z.shape[0], *self.image_shape))

  def __call__(self, x, *, train: bool = False):
    del train
    return self.decode(self.encode(x)).reshape(x.shape)


class ConvAutoencoder(nn.Module):
  """Strided 3x3 convolutions halve the image per block (28→14→7), a dense code z, then transposed
  convolutions double it back; a final 3x3 convolution and σ give x̂. H and W must be divisible by
  2^len(widths)."""
  image_shape: Sequence[int]
  widths: Sequence[int] = (32, 64)     # channels of the strided encoder convolutions (mirrored in the decoder)
  latent: int = 32
  activation: str = "relu"

  def setup(self):
    self.down = [nn.Conv(f, (3, 3), strides=(2, 2), padding="SAME", name=f"enc_conv_{i}")
                 for i, f in enumerate(self.widths)]
    self.code = nn.Dense(self.latent, name="code")
    h, w, _ = self.image_shape
    scale = 2 ** len(self.widths)
    if h % scale or w % scale:
      raise ValueError(f"image {h}x{w} is not divisible by {scale}: use fewer conv widths or pad the images")
    self.bottom_shape = (h // scale, w // scale, self.widths[-1])
    self.expand = nn.Dense(self.bottom_shape[0] * self.bottom_shape[1] * self.bottom_shape[2], name="dec_dense")
    self.up = [nn.ConvTranspose(f, (3, 3), strides=(2, 2), padding="SAME", name=f"dec_conv_{i}")
               for i, f in enumerate(reversed(self.widths))]
    self.output = nn.Conv(self.image_shape[-1], (3, 3), padding="SAME", name="output")

  def encode(self, x):
    act = activations.get(self.activation)
    h = _with_channels(x)
    for conv in self.down:
      h = act(conv(h))
    return self.code(h.reshape((h.shape[0], -1)))

  def decode(self, z):
    act = activations.get(self.activation)
    h = act(self.expand(z)).reshape((z.shape[0], *self.bottom_shape))
    for conv in self.up:
      h = act(conv(h))
    return nn.sigmoid(self.output(h))

  def __call__(self, x, *, train: bool = False):
    del train
    return self.decode(self.encode(x)).reshape(x.shape)


AUTOENCODERS = {"dense_ae": DenseAutoencoder, "conv_ae": ConvAutoencoder}
