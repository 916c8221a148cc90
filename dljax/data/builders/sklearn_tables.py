"""scikit-learn's small tables (iris, wine, breast cancer, diabetes) as TFDS datasets.

Every table is split once, as scikit-learn's default `train_test_split(x, y, test_size=0.25,
random_state=0)`, stratified by class for the classification tables; rows keep that call's order.
Features are stored float32 exactly as scikit-learn gives them (unscaled: standardising is a modelling
choice, and must use train statistics only).
"""

from collections.abc import Callable

import numpy as np
import tensorflow_datasets as tfds
from sklearn import datasets as sk_datasets
from sklearn import model_selection

TEST_SIZE = 0.25
SPLIT_SEED = 0


class SklearnTable(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """Base of the table builders: subclasses set LOAD (a `sklearn.datasets.load_*`) and REGRESSION."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "75/25 split by train_test_split(test_size=0.25, random_state=0)."}
  LOAD: Callable[[], object]
  REGRESSION = False

  @classmethod
  def split(cls) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, x_test, y_train, y_test) as scikit-learn returns them."""
    bunch = cls.LOAD()
    return model_selection.train_test_split(bunch.data, bunch.target, test_size=TEST_SIZE,
                                            stratify=None if cls.REGRESSION else bunch.target,
                                            random_state=SPLIT_SEED)

  def _info(self) -> tfds.core.DatasetInfo:
    bunch = self.LOAD()
    if self.REGRESSION:
      y_key, y_feature = "target", tfds.features.Tensor(shape=(), dtype=np.float32)
    else:
      y_key, y_feature = "label", tfds.features.ClassLabel(names=[str(n) for n in bunch.target_names])
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "features": tfds.features.Tensor(shape=(bunch.data.shape[1],), dtype=np.float32),
            y_key: y_feature,
        }),
        supervised_keys=("features", y_key),
        disable_shuffling=True,
        metadata=tfds.core.MetadataDict(feature_names=[str(n) for n in bunch.feature_names]),
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # the tables ship with scikit-learn
    x_train, x_test, y_train, y_test = self.split()
    return {"train": self._generate_examples(x_train, y_train),
            "test": self._generate_examples(x_test, y_test)}

  def _generate_examples(self, x, y):
    y_key = "target" if self.REGRESSION else "label"
    for i, (row, target) in enumerate(zip(x.astype(np.float32), y)):
      yield i, {"features": row, y_key: float(target) if self.REGRESSION else int(target)}


class DljaxIris(SklearnTable):
  """Fisher's iris: 4 flower measurements (cm), 3 species; 150 rows, train 112 / test 38 (stratified)."""
  LOAD = staticmethod(sk_datasets.load_iris)


class DljaxWine(SklearnTable):
  """UCI wine: 13 chemical measurements, 3 cultivars; 178 rows, train 133 / test 45 (stratified)."""
  LOAD = staticmethod(sk_datasets.load_wine)


class DljaxBreastCancer(SklearnTable):
  """Wisconsin diagnostic breast cancer: 30 cell-nucleus features, malignant/benign; 569 rows, 426 / 143."""
  LOAD = staticmethod(sk_datasets.load_breast_cancer)


class DljaxDiabetes(SklearnTable):
  """Diabetes progression after one year (float target 25..346) from 10 features scikit-learn mean-centres
  and scales; 442 rows, train 331 / test 111 (not stratified: regression)."""
  LOAD = staticmethod(sk_datasets.load_diabetes)
  REGRESSION = True
