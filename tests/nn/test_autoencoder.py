"""Autoencoder modules against numpy/PyTorch formulas, and the reconstruction metrics against numpy/scikit-learn."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from dljax.nn.autoencoder import ConvAutoencoder, DenseAutoencoder
from dljax.tasks import reconstruction


def _images(n=5, shape=(28, 28, 1), seed=0):
  return jnp.asarray(np.random.RandomState(seed).rand(n, *shape).astype(np.float32))


def test_dense_autoencoder_equals_its_numpy_formula():
  model = DenseAutoencoder(image_shape=(28, 28, 1), widths=(64, 16), latent=4, activation="tanh")
  x = _images()
  params = model.init(jax.random.key(0), x)["params"]
  p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
  h = np.asarray(x, np.float64).reshape(5, -1)
  for name in ("enc_0", "enc_1"):
    h = np.tanh(h @ p[name]["kernel"] + p[name]["bias"])
  z = h @ p["code"]["kernel"] + p["code"]["bias"]
  h = z
  for name in ("dec_0", "dec_1"):  # widths mirrored: 16 then 64
    h = np.tanh(h @ p[name]["kernel"] + p[name]["bias"])
  expected = 1.0 / (1.0 + np.exp(-(h @ p["output"]["kernel"] + p["output"]["bias"])))
  assert p["dec_0"]["kernel"].shape == (4, 16) and p["dec_1"]["kernel"].shape == (16, 64)
  np.testing.assert_allclose(model.apply({"params": params}, x, method=model.encode), z, rtol=1e-4, atol=1e-5)
  out = model.apply({"params": params}, x)
  assert out.shape == x.shape
  np.testing.assert_allclose(out.reshape(5, -1), expected, rtol=1e-4, atol=1e-5)
  # Grey images without a channel axis come back in the same shape.
  assert model.apply({"params": params}, x[..., 0]).shape == (5, 28, 28)


def test_conv_autoencoder_shapes_and_first_layer_equal_torch_conv2d():
  model = ConvAutoencoder(image_shape=(28, 28, 1), widths=(8, 16), latent=6)
  x = _images(n=3)
  params = jax.jit(model.init)(jax.random.key(1), x)["params"]
  apply = jax.jit(model.apply, static_argnames="method")
  out = apply({"params": params}, x)
  assert out.shape == x.shape and float(out.min()) >= 0.0 and float(out.max()) <= 1.0
  z = apply({"params": params}, x, method="encode")
  assert z.shape == (3, 6)
  np.testing.assert_allclose(apply({"params": params}, z, method="decode"), out, rtol=1e-5, atol=1e-6)
  # The first strided conv, SAME padding on 28 with stride 2 pads 0 before and 1 after (XLA's rule).
  ours = np.asarray(jax.jit(lambda p, x: model.bind({"params": p}).down[0](x))(params, x))
  kernel = torch.tensor(np.asarray(params["enc_conv_0"]["kernel"])).permute(3, 2, 0, 1)  # HWIO -> OIHW
  padded = torch.nn.functional.pad(torch.tensor(np.asarray(x)).permute(0, 3, 1, 2), (0, 1, 0, 1))
  theirs = torch.nn.functional.conv2d(padded, kernel, torch.tensor(np.asarray(params["enc_conv_0"]["bias"])),
                                      stride=2).permute(0, 2, 3, 1).numpy()
  np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
  with pytest.raises(ValueError, match="not divisible"):
    ConvAutoencoder(image_shape=(10, 10, 1), widths=(8, 16)).init(jax.random.key(0), jnp.zeros((1, 10, 10, 1)))


def test_reconstruction_errors_and_auroc_equal_numpy_and_sklearn():
  rng = np.random.RandomState(0)
  x, y = rng.rand(7, 4, 4, 1).astype(np.float32), rng.rand(7, 4, 4, 1).astype(np.float32)
  np.testing.assert_allclose(reconstruction.example_errors(jnp.asarray(y), jnp.asarray(x)),
                             ((x - y) ** 2).reshape(7, -1).mean(1), rtol=1e-6)
  mask = np.array([1, 1, 1, 1, 1, 0, 0], np.float32)
  sums = reconstruction.eval_sums(jnp.asarray(y), jnp.asarray(x), jnp.asarray(mask))
  mse = ((x[:5] - y[:5]) ** 2).mean()
  metrics = reconstruction.metrics_from_sums(jax.device_get(sums))
  assert metrics["mse"] == pytest.approx(mse, rel=1e-5)
  assert metrics["psnr_db"] == pytest.approx(10 * np.log10(1 / mse), rel=1e-5)
  for scores in (rng.randn(500), rng.randint(0, 6, 500).astype(float)):  # continuous, then heavy ties
    labels = rng.rand(500) < 0.3
    assert reconstruction.auroc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
  with pytest.raises(ValueError, match="both classes"):
    reconstruction.auroc([0.1, 0.2], [True, True])
