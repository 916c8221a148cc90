"""The "unsupervised" trainer: k-means or PCA (dljax.classic.kmeans / .pca) fitted once, with the peer
library fitted on the same rows and reported beside it.

One step, like ClassicTrainer: `train` runs the whole compiled fit and the fitted parameters are the
checkpointed state, so a rerun restores them instead of refitting. Labels, where the dataset has them,
are used only for scoring (adjusted Rand index of the clusters against the classes).

Metrics in summary.json:
  k-means  inertia (training rows), test_inertia, n_iter, adjusted_rand and test_adjusted_rand; the same for
           scikit-learn's KMeans (same k, init, n_init, max_iter, tol) as sklearn_*.
  PCA      explained_variance_ratio (sum over the kept components), reconstruction_mse and
           test_reconstruction_mse (mean squared error per pixel of x − inverse_transform(transform(x)));
           the same for scikit-learn's PCA as sklearn_*, and explained_variance_max_rel_diff between them.
           sklearn's PCA gets the rows as float64: its float32 "covariance_eigh" forms XᵀX − n·x̄x̄ᵀ uncentred
           and is off by ~4e-4 on Fashion-MNIST, so the float64 fit is the exact answer ours is held to.
"""

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
from sklearn import cluster as sk_cluster
from sklearn import decomposition as sk_decomposition
from sklearn import metrics as sk_metrics

from dljax import parallel
from dljax.classic import kmeans, pca
from dljax.data import sources
from dljax.errors import UserError
from dljax.train.trainers import FitState, Trainer, _number_or_text, register_trainer

LEARNERS = {"kmeans": kmeans, "pca": pca}


def _log(message: str) -> None:
  if jax.process_index() == 0:
    print(message, flush=True)


@register_trainer("unsupervised")
class UnsupervisedTrainer(Trainer):
  """k-means or PCA (config.learner) fitted in one compiled call: one step."""

  def __init__(self, config, mesh, key):
    if config.learner not in LEARNERS:
      raise UserError(f"--config.learner={config.learner}: choose one of {', '.join(LEARNERS)}")
    self.config, self.mesh, self._key = config, mesh, key
    self.learner = LEARNERS[config.learner]
    data = sources.load_dataset(config.data.source, max_train=config.data.max_train,
                                max_test=config.data.max_test)
    x_train = data.train_x.reshape(len(data.train_x), -1).astype(np.float32)
    x_test = data.test_x.reshape(len(data.test_x), -1).astype(np.float32)
    if config.data.standardize:  # train statistics only; constant features left unscaled
      mean, std = x_train.mean(0), x_train.std(0)
      std = np.where(std > 0, std, 1.0)
      x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    self.x_train, self.x_test = x_train.astype(np.float32), x_test.astype(np.float32)
    labelled = data.num_classes is not None
    self.y_train, self.y_test = (data.train_y, data.test_y) if labelled else (None, None)
    hyper = {k: _number_or_text(v) for k, v in config.model.to_dict().items()}
    self.learner_config = self.learner.default_config(**hyper)
    self.learner.check_inputs(self.x_train, self.learner_config)
    self.num_steps, self.examples_per_step = 1, len(self.x_train)
    self.loss_metric = "inertia" if self.learner is kmeans else "reconstruction_mse"
    # k-means shards the rows over the mesh (per-device sums psum'med); PCA's fit is one SVD/eigh.
    sharded = self.learner is kmeans and mesh.devices.size > 1
    extra = {"mesh": mesh} if sharded else {}
    self._fit = jax.jit(functools.partial(self.learner.fit, config=self.learner_config, **extra))
    self._predict, self._inertia = jax.jit(kmeans.predict), jax.jit(kmeans.inertia)
    self._reconstruction_error = jax.jit(pca.reconstruction_error)

  def init_state(self) -> FitState:
    abstract = jax.eval_shape(self._fit, self._key, self.x_train)
    state = FitState(step=jnp.int32(0), params=jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), abstract))
    return parallel.replicate(self.mesh, state)

  def train(self, state, num_steps):
    del num_steps  # the whole fit is one step
    params = self._fit(self._key, self.x_train)
    if self.learner is kmeans:
      metric = params.inertia
    else:
      metric = jnp.mean(self._reconstruction_error(params, self.x_train)) / self.x_train.shape[1]
    return parallel.replicate(self.mesh, FitState(step=state.step + 1, params=params)), {self.loss_metric: metric[None]}

  def evaluate(self, state) -> dict[str, float]:
    params = jax.device_get(state.params)
    metrics = self._kmeans_metrics(params) if self.learner is kmeans else self._pca_metrics(params)
    _log("  ".join(f"{k}={v:.6g}" for k, v in metrics.items()))
    return metrics

  def _kmeans_metrics(self, params) -> dict[str, float]:
    c = self.learner_config
    metrics = {"inertia": float(params.inertia), "n_iter": float(params.n_iter),
               "test_inertia": float(self._inertia(params.centers, self.x_test))}
    start = time.perf_counter()
    peer = sk_cluster.KMeans(c.n_clusters, init=c.init, n_init=c.n_init, max_iter=c.max_iter, tol=c.tol,
                             algorithm="lloyd", random_state=self.config.seed)
    if c.algorithm == "minibatch":
      peer = sk_cluster.MiniBatchKMeans(c.n_clusters, init=c.init, n_init=c.n_init, max_iter=c.max_iter,
                                        batch_size=c.batch_size, random_state=self.config.seed)
    peer.fit(self.x_train)
    metrics["sklearn_fit_s"] = time.perf_counter() - start
    metrics["sklearn_inertia"] = float(peer.inertia_)
    metrics["sklearn_test_inertia"] = float(-peer.score(self.x_test))
    if self.y_train is not None:
      train_labels = np.asarray(self._predict(params, self.x_train))
      test_labels = np.asarray(self._predict(params, self.x_test))
      metrics["adjusted_rand"] = float(sk_metrics.adjusted_rand_score(self.y_train, train_labels))
      metrics["test_adjusted_rand"] = float(sk_metrics.adjusted_rand_score(self.y_test, test_labels))
      metrics["sklearn_adjusted_rand"] = float(sk_metrics.adjusted_rand_score(self.y_train, peer.labels_))
      metrics["sklearn_test_adjusted_rand"] = float(sk_metrics.adjusted_rand_score(self.y_test,
                                                                                   peer.predict(self.x_test)))
    return metrics

  def _pca_metrics(self, params) -> dict[str, float]:
    c = self.learner_config

    def mse(x):
      return float(jnp.mean(self._reconstruction_error(params, x))) / x.shape[1]

    metrics = {"explained_variance_ratio": float(np.sum(params.explained_variance_ratio)),
               "reconstruction_mse": mse(self.x_train), "test_reconstruction_mse": mse(self.x_test)}
    start = time.perf_counter()
    peer = sk_decomposition.PCA(c.n_components, whiten=c.whiten, svd_solver=c.solver,
                                random_state=self.config.seed).fit(self.x_train.astype(np.float64))
    metrics["sklearn_fit_s"] = time.perf_counter() - start

    def sk_mse(x):
      x = x.astype(np.float64)
      return float(np.mean((x - peer.inverse_transform(peer.transform(x))) ** 2))

    metrics["sklearn_explained_variance_ratio"] = float(np.sum(peer.explained_variance_ratio_))
    metrics["sklearn_reconstruction_mse"] = sk_mse(self.x_train)
    metrics["sklearn_test_reconstruction_mse"] = sk_mse(self.x_test)
    metrics["explained_variance_max_rel_diff"] = float(np.max(
        np.abs(np.asarray(params.explained_variance, np.float64) - peer.explained_variance_)
        / peer.explained_variance_))
    return metrics
