"""Flax linen modules (pure: no data, no training, no config files)."""

from dljax.nn.cnn import CNN
from dljax.nn.mlp import MLP, LogisticRegression
from dljax.nn.rnn import RecurrentNet

MODELS = {"logreg": LogisticRegression, "mlp": MLP, "cnn": CNN, "rnn": RecurrentNet}
