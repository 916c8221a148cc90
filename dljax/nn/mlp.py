"""Dense networks: logistic regression (one affine layer) and the MLP."""

from typing import Sequence

import flax.linen as nn

from dljax.nn import activations


class LogisticRegression(nn.Module):
  """Multinomial logistic regression: logits = W x + b; trained with softmax cross-entropy."""
  num_outputs: int

  @nn.compact
  def __call__(self, x, *, train: bool = False):
    del train
    x = x.reshape((x.shape[0], -1))
    return nn.Dense(self.num_outputs, name="linear")(x)


class MLP(nn.Module):
  """Fully connected network: h_{l+1} = act(W_l h_l + b_l), dropout after each hidden layer."""
  hidden: Sequence[int]
  num_outputs: int
  activation: str = "relu"
  dropout: float = 0.0

  @nn.compact
  def __call__(self, x, *, train: bool = False):
    act = activations.get(self.activation)
    x = x.reshape((x.shape[0], -1))
    for i, width in enumerate(self.hidden):
      x = act(nn.Dense(width, name=f"dense_{i}")(x))
      if self.dropout > 0:
        x = nn.Dropout(self.dropout, deterministic=not train)(x)
    return nn.Dense(self.num_outputs, name="head")(x)
