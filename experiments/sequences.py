"""Sequence models on yearly sunspot numbers (statsmodels): 20 past years -> the next year's value.

The split is by time (targets 1720-1949 train, 1950-2008 test; dljax/data/builders/sunspots.py), so the test
is forecasting one step ahead into decades the model never saw, including the record cycle of 1957. The
baseline is the autoregressive least-squares fit on the same windows (`sunspots_linear`, AR(20)).

Hyper-parameters (16 units, 300 epochs, no dropout; PyTorch's uniform init for the Elman RNN and the LSTM,
LeCun + orthogonal for the GRU) were chosen on a validation split of the training years only (train
1720-1909, validate 1910-1949); the test years were scored after that choice.
"""

from dljax.experiments._base import classic_config, minibatch_config
from dljax.registry import register


def _recurrent(cell: str, weight_init: str):
  model = {"name": "rnn", "cell": cell, "hidden": 16, "num_layers": 1, "dropout": 0.0, "weight_init": weight_init}
  c = minibatch_config(task="regression", source="sunspots", model=model,
                        batch_size=32, num_epochs=300, learning_rate=3e-3, schedule="cosine")
  c.eval_batch_size = 64
  c.log_every_steps = 100
  return c


@register("sunspots_lstm", kind="supervised", dataset="sunspots",
          description="LSTM (16 units) on 20-year windows of sunspot numbers, one step ahead, Adam + cosine")
def sunspots_lstm():
  """One LSTM layer of 16 units (PyTorch's uniform init) reads 20 years; a linear head predicts the next year
  (scaled by 1/100).

  Run: dljax run sunspots_lstm --workdir /tmp/sunspots_lstm
  Result: test R² 0.8928 (mse 0.0288), 2,100 steps, 4.2 s of training; 5 seeds (--vmap_seeds 0,1,2,3,4):
  0.8837 ± 0.0143 (PyTorch's nn.LSTM, same recipe: 0.8833 ± 0.0071; AR(20) 0.8582), 2 CPU cores, 2026-12-03.
  """
  return _recurrent("lstm", "uniform")


@register("sunspots_gru", kind="supervised", dataset="sunspots",
          description="GRU (16 units) on 20-year windows of sunspot numbers, one step ahead, Adam + cosine")
def sunspots_gru():
  """One GRU layer of 16 units, LeCun-normal input and orthogonal recurrent weights, otherwise as sunspots_lstm.

  Run: dljax run sunspots_gru --workdir /tmp/sunspots_gru
  Result: test R² 0.8843 (mse 0.0311), 3.9 s of training; 5 seeds: 0.8896 ± 0.0121 (PyTorch's nn.GRU
  0.8813 ± 0.0132), 2 CPU cores, 2026-12-03.
  """
  return _recurrent("gru", "lecun")


@register("sunspots_rnn", kind="supervised", dataset="sunspots",
          description="Elman RNN (16 tanh units) on 20-year windows of sunspot numbers, one step ahead")
def sunspots_rnn():
  """One Elman (tanh) layer of 16 units, otherwise as sunspots_lstm.

  Run: dljax run sunspots_rnn --workdir /tmp/sunspots_rnn
  Result: test R² 0.8748 (mse 0.0336), 3.2 s of training; 5 seeds: 0.8723 ± 0.0096 (PyTorch's nn.RNN
  0.8763 ± 0.0087), 2 CPU cores, 2026-12-03.
  """
  return _recurrent("rnn", "uniform")


@register("sunspots_linear", kind="supervised", dataset="sunspots",
          description="autoregressive baseline AR(20): least squares on the same 20-year windows")
def sunspots_linear():
  """Ordinary least squares of the next year on the 20 previous ones (an AR(20) model, fitted exactly).

  Run: dljax run sunspots_linear --workdir /tmp/sunspots_linear
  Result: test R² 0.8582 (mse 0.0381), equal to scikit-learn's LinearRegression on the same windows; 7.5 s wall.
  """
  return classic_config(source="sunspots", learner="linear", model={"alpha": 0.0}, standardize=False)
