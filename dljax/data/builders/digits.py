"""scikit-learn's handwritten digits as a TFDS dataset."""

import numpy as np
import tensorflow_datasets as tfds
from sklearn import datasets as sk_datasets
from sklearn import model_selection

# The fixed split; sklearn's default test fraction, stratified so every digit keeps its share.
TEST_SIZE = 0.25
SPLIT_SEED = 0


def split_digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
  """(x_train, x_test, y_train, y_test) of `load_digits()`: x float64 (N, 64) in 0..16, y int."""
  x, y = sk_datasets.load_digits(return_X_y=True)
  return model_selection.train_test_split(x, y, test_size=TEST_SIZE, stratify=y, random_state=SPLIT_SEED)


class DljaxDigits(tfds.core.GeneratorBasedBuilder):
  """scikit-learn's `load_digits()`: 1,797 8x8 grey images of handwritten digits, 10 classes.

  Split (fixed): `train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)` gives
  train 1,347 / test 450, rows in the order that call returns. Images are uint8 (8, 8, 1) with the
  original values 0..16 (17 grey levels, from 4x4 pixel counts); labels are the digit 0..9.
  """

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Stratified 75/25 split of sklearn load_digits, random_state=0."}

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Tensor(shape=(8, 8, 1), dtype=np.uint8, encoding="bytes"),
            "label": tfds.features.ClassLabel(num_classes=10),
        }),
        supervised_keys=("image", "label"),
        homepage="https://archive.ics.uci.edu/dataset/80",
        disable_shuffling=True,
        metadata=tfds.core.MetadataDict(pixel_max=16),
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # the data ships with scikit-learn
    x_train, x_test, y_train, y_test = split_digits()
    return {"train": self._generate_examples(x_train, y_train),
            "test": self._generate_examples(x_test, y_test)}

  def _generate_examples(self, x, y):
    images = x.reshape(-1, 8, 8, 1)
    assert np.array_equal(images, images.astype(np.uint8)), "load_digits values are integers 0..16"
    for i, (image, label) in enumerate(zip(images.astype(np.uint8), y)):
      yield i, {"image": image, "label": int(label)}
