"""Sequence models on yearly sunspot numbers (statsmodels): 20 past years -> the next year's value.

The split is by time (targets 1720-1949 train, 1950-2008 test; dljax/data/builders/sunspots.py), so the test
is forecasting one step ahead into decades the model never saw, including the record cycle of 1957. The
baseline is the autoregressive least-squares fit on the same windows (`sunspots_linear`, AR(20)).
"""

from dljax.experiments._base import classic_config, supervised_config
from dljax.registry import register


def _recurrent(cell: str):
  c = supervised_config(source="sunspots", model={"name": "rnn", "cell": cell, "hidden": 16, "num_layers": 1,
                                                  "dropout": 0.0},
                        batch_size=32, num_epochs=300, learning_rate=3e-3, schedule="cosine")
  c.eval_batch_size = 64
  c.log_every_steps = 100
  return c


@register("sunspots_lstm", kind="supervised", dataset="sunspots",
          description="LSTM (16 units) on 20-year windows of sunspot numbers, one step ahead, Adam + cosine")
def sunspots_lstm():
  """One LSTM layer of 16 units reads 20 years; a linear head predicts the next year (scaled by 1/100).

  Run: dljax run sunspots_lstm --workdir /tmp/sunspots_lstm
  Result: see the README's sequence table (measured on this machine).
  """
  return _recurrent("lstm")


@register("sunspots_gru", kind="supervised", dataset="sunspots",
          description="GRU (16 units) on 20-year windows of sunspot numbers, one step ahead, Adam + cosine")
def sunspots_gru():
  """One GRU layer of 16 units, otherwise as sunspots_lstm.

  Run: dljax run sunspots_gru --workdir /tmp/sunspots_gru
  """
  return _recurrent("gru")


@register("sunspots_rnn", kind="supervised", dataset="sunspots",
          description="Elman RNN (16 tanh units) on 20-year windows of sunspot numbers, one step ahead")
def sunspots_rnn():
  """One Elman (tanh) layer of 16 units, otherwise as sunspots_lstm.

  Run: dljax run sunspots_rnn --workdir /tmp/sunspots_rnn
  """
  return _recurrent("rnn")


@register("sunspots_linear", kind="supervised", dataset="sunspots",
          description="autoregressive baseline AR(20): least squares on the same 20-year windows")
def sunspots_linear():
  """Ordinary least squares of the next year on the 20 previous ones (an AR(20) model, fitted exactly).

  Run: dljax run sunspots_linear --workdir /tmp/sunspots_linear
  """
  return classic_config(source="sunspots", learner="linear", model={"alpha": 0.0}, standardize=False)
