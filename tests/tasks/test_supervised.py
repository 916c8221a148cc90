import jax
import numpy as np
from sklearn.metrics import r2_score

from dljax.tasks import supervised


def test_cross_entropy_matches_numpy():
  rng = np.random.RandomState(0)
  logits, labels = rng.randn(7, 5).astype(np.float32), rng.randint(0, 5, 7)
  z = logits.astype(np.float64)
  expected = np.log(np.exp(z).sum(1)) - z[np.arange(7), labels]
  np.testing.assert_allclose(supervised.cross_entropy(logits, labels), expected, rtol=1e-5)


def test_classification_sums_with_padding_mask():
  logits = np.array([[2.0, 0.0], [0.0, 1.0], [5.0, 0.0]], np.float32)
  labels = np.array([0, 0, 1])
  mask = np.array([1.0, 1.0, 0.0], np.float32)  # the third row is padding
  m = supervised.metrics_from_sums("cross_entropy", jax.device_get(
      supervised.eval_sums("cross_entropy", logits, labels, mask)))
  assert m["accuracy"] == 0.5
  np.testing.assert_allclose(m["loss"], np.mean([np.log1p(np.exp(-2.0)), np.log1p(np.exp(1.0))]), rtol=1e-5)


def test_regression_metrics_match_sklearn():
  rng = np.random.RandomState(1)
  y, pred = rng.randn(50).astype(np.float32), rng.randn(50, 1).astype(np.float32)
  m = supervised.metrics_from_sums("mse", jax.device_get(supervised.eval_sums("mse", pred, y, np.ones(50, np.float32))))
  np.testing.assert_allclose(m["mse"], np.mean((pred[:, 0] - y) ** 2), rtol=1e-5)
  np.testing.assert_allclose(m["r2"], r2_score(y, pred[:, 0]), rtol=1e-4)


def test_augment_flip_and_crop_are_exact_transforms():
  x = np.arange(2 * 4 * 5 * 1, dtype=np.float32).reshape(2, 4, 5, 1) + 1
  out = np.asarray(supervised.augment_images(jax.random.key(3), x, flip=True, crop_padding=1))
  pad = lambda a: np.pad(a, ((1, 1), (1, 1), (0, 0)))
  for i in range(2):
    # Every output is a 4x5 window of the zero-padded image or of its mirror image.
    windows = [pad(img)[a:a + 4, b:b + 5] for img in (x[i], x[i, :, ::-1]) for a in range(3) for b in range(3)]
    assert any(np.array_equal(out[i], w) for w in windows)
  same = np.asarray(supervised.augment_images(jax.random.key(3), x, flip=True, crop_padding=1))
  np.testing.assert_array_equal(out, same)  # a function of the key only
  other = np.asarray(supervised.augment_images(jax.random.key(4), np.repeat(x, 8, 0), flip=True, crop_padding=1))
  assert len({o.tobytes() for o in other}) > 2  # different examples get different transforms
