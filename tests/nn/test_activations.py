import numpy as np
import pytest

from dljax.nn import activations

X = np.linspace(-30, 30, 1001).astype(np.float32)

REFERENCE = {
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x.astype(np.float64))),
    "relu": lambda x: np.maximum(0.0, x),
    "tanh": lambda x: (np.exp(x.astype(np.float64)) - np.exp(-x.astype(np.float64)))
    / (np.exp(x.astype(np.float64)) + np.exp(-x.astype(np.float64))),
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_activation_matches_formula(name):
  np.testing.assert_allclose(np.asarray(activations.get(name)(X)), REFERENCE[name](X), rtol=1e-6, atol=1e-7)


def test_sigmoid_is_finite_at_extremes():
  out = np.asarray(activations.sigmoid(np.array([-1e4, 1e4], np.float32)))
  np.testing.assert_array_equal(out, [0.0, 1.0])


def test_unknown_activation():
  with pytest.raises(ValueError, match="unknown activation"):
    activations.get("swish2")
