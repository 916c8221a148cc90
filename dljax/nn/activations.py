"""Activation functions written from their formulas (tested against numpy)."""

import jax
import jax.numpy as jnp


def sigmoid(x):
  # σ(x) = 1 / (1 + e^{-x}). lax.logistic evaluates exactly this, but without the overflow of
  # e^{-x} (and the inf/inf gradient) for large negative x, and keeps relative accuracy there.
  return jax.lax.logistic(x)


def relu(x):
  # ReLU(x) = max(0, x)
  return jnp.maximum(x, 0.0)


def tanh(x):
  # tanh(x) = (e^x - e^{-x}) / (e^x + e^{-x})
  return jnp.tanh(x)


ACTIVATIONS = {"sigmoid": sigmoid, "relu": relu, "tanh": tanh}


def get(name: str):
  if name not in ACTIVATIONS:
    raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
  return ACTIVATIONS[name]
