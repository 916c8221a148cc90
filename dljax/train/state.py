"""The training state: everything a checkpoint must hold to resume bit for bit."""

from typing import Any

import flax.struct
import jax.numpy as jnp


class TrainState(flax.struct.PyTreeNode):
  step: jnp.ndarray           # int32 scalar; keys and the data position derive from it
  params: Any
  batch_stats: Any            # BatchNorm running statistics ({} when the model has none)
  opt_state: Any
