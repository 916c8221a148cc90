"""Yearly mean sunspot numbers 1700-2008 (statsmodels' bundled `sunspots`) as one-step-ahead windows.

Example t: the WINDOW years before year t (oldest first) -> the value of year t, both divided by SCALE
(so values lie in 0..1.9 and mse is in those units; R² does not depend on the scale). The split is by
time, never shuffled across it: targets before TEST_FROM_YEAR train (1720-1949: 230 windows), the rest
test (1950-2008: 59 windows). The test decades hold the record cycle 19 (1957: 190.2), above every
training value (max 154.4 in 1778): extrapolation a model must do on real data.
"""

import numpy as np
import tensorflow_datasets as tfds

WINDOW = 20            # years of history per example: about two 11-year solar cycles
SCALE = 100.0
TEST_FROM_YEAR = 1950


def series() -> tuple[np.ndarray, np.ndarray]:
  """(years, sunspot numbers), float64, exactly as statsmodels ships them."""
  from statsmodels.datasets import sunspots  # imported here: statsmodels is slow to import
  data = sunspots.load_pandas().data
  return data["YEAR"].to_numpy(np.float64), data["SUNACTIVITY"].to_numpy(np.float64)


def windows() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(x, y, target_year): x[i] = values[i:i+WINDOW] / SCALE, y[i] = values[i+WINDOW] / SCALE."""
  years, values = series()
  x = np.lib.stride_tricks.sliding_window_view(values[:-1], WINDOW) / SCALE
  return x, values[WINDOW:] / SCALE, years[WINDOW:]


class DljaxSunspots(tfds.core.GeneratorBasedBuilder):
  """Sunspot numbers: WINDOW past years -> next year, split by time at TEST_FROM_YEAR."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": f"{WINDOW}-year windows / {SCALE:g}; targets < {TEST_FROM_YEAR} train."}

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "history": tfds.features.Tensor(shape=(WINDOW,), dtype=np.float32),
            "target": tfds.features.Tensor(shape=(), dtype=np.float32),
            "year": tfds.features.Tensor(shape=(), dtype=np.int32),
        }),
        supervised_keys=("history", "target"),
        disable_shuffling=True,
        metadata=tfds.core.MetadataDict(window=WINDOW, scale=SCALE, test_from_year=TEST_FROM_YEAR),
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # the series ships with statsmodels
    x, y, year = windows()
    train = year < TEST_FROM_YEAR
    return {"train": self._generate_examples(x[train], y[train], year[train]),
            "test": self._generate_examples(x[~train], y[~train], year[~train])}

  def _generate_examples(self, x, y, year):
    for i, (history, target, t) in enumerate(zip(x.astype(np.float32), y.astype(np.float32), year)):
      yield i, {"history": history, "target": target, "year": int(t)}
