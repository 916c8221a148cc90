"""dljax.classic.tree and dljax.classic.forest against scikit-learn on the same data."""

import functools
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from dljax.classic import forest, tree
from dljax.data.sources import load_dataset
from dljax.errors import UserError


def _table(name):
  d = load_dataset(name)
  flat = lambda a: a.reshape(len(a), -1)
  return flat(d.train_x), d.train_y, flat(d.test_x), d.test_y, d.num_classes


def _assert_same_splits(ours, sk, node=0, sk_node=0):
  """Walks both trees from the root: the same leaves, features and thresholds (sklearn stores float64)."""
  t = sk.tree_
  sk_leaf = t.children_left[sk_node] == -1
  assert bool(ours.is_leaf[node]) == sk_leaf, f"node {node}: leaf {bool(ours.is_leaf[node])} vs sklearn {sk_leaf}"
  if sk_leaf:
    return
  assert int(ours.feature[node]) == t.feature[sk_node], f"node {node}: feature"
  np.testing.assert_allclose(float(ours.threshold[node]), t.threshold[sk_node], rtol=1e-6)
  _assert_same_splits(ours, sk, 2 * node + 1, t.children_left[sk_node])
  _assert_same_splits(ours, sk, 2 * node + 2, t.children_right[sk_node])


# Tie-free at depth 3: every node's best split is unique, so the tree does not depend on tie-breaking.
@pytest.mark.parametrize("name,criterion", [("breast_cancer", "entropy"), ("diabetes", "squared_error")])
def test_depth3_tree_makes_sklearns_splits(name, criterion):
  x, y, x_test, _, num_classes = _table(name)
  task = "regression" if num_classes is None else "classification"
  config = tree.default_config(task=task, criterion=criterion, max_depth=3, num_classes=num_classes)
  tree.check_inputs(x, y, config)
  sk_cls = DecisionTreeRegressor if num_classes is None else DecisionTreeClassifier
  sk = sk_cls(criterion=criterion, max_depth=3, random_state=0).fit(x, y)
  fit = jax.jit(functools.partial(tree.fit, config=config))
  for seed in (0, 1):  # the tie-break key must not matter
    params = fit(jax.random.key(seed), x, y)
    _assert_same_splits(params, sk)
    np.testing.assert_allclose(np.asarray(tree.predict(params, x_test)), sk.predict(x_test), rtol=1e-5)
  if num_classes is not None:
    np.testing.assert_allclose(np.asarray(tree.predict_proba(params, x_test)), sk.predict_proba(x_test), atol=1e-6)


def test_histogram_search_makes_sklearns_splits_with_a_bin_per_value():
  """splitter="hist" with more bins than distinct values: the same splits and thresholds as sklearn."""
  for name, criterion in [("breast_cancer", "entropy"), ("diabetes", "squared_error")]:
    x, y, _, _, num_classes = _table(name)
    task = "regression" if num_classes is None else "classification"
    config = tree.default_config(task=task, criterion=criterion, max_depth=3, num_classes=num_classes,
                                 splitter="hist", max_bins=512)
    sk_cls = DecisionTreeRegressor if num_classes is None else DecisionTreeClassifier
    sk = sk_cls(criterion=criterion, max_depth=3, random_state=0).fit(x, y)
    _assert_same_splits(jax.jit(functools.partial(tree.fit, config=config))(jax.random.key(0), x, y), sk)


def test_small_classification_takes_per_value_bins_and_makes_sklearns_splits():
  """splitter="exact" on small classification data (6 of breast_cancer's features: 426 rows, ~400 values
  each) searches one bin per value instead of the sorted search: still sklearn's splits and thresholds.
  Regression and tables too big for the pass budget keep the other searches."""
  x, y, _, _, num_classes = _table("breast_cancer")
  # Mean radius, texture, smoothness, compactness, concavity, symmetry: none is monotone in another (radius,
  # perimeter and area are), so no two candidates make the same partition and the splits do not hinge on ties.
  x = np.ascontiguousarray(x[:, [0, 1, 4, 5, 6, 8]])
  config = tree.default_config(criterion="entropy", max_depth=3, num_classes=num_classes)
  assert tree.per_value_bins(*x.shape, config)
  prep = tree.prepare(np.asarray(x, np.float32), config)
  assert bool(prep.exact) and prep.bin_low.shape == (6, len(x))
  sk = DecisionTreeClassifier(criterion="entropy", max_depth=3, random_state=0).fit(x, y)
  fit = jax.jit(functools.partial(tree.fit, config=config))
  for seed in (0, 1):
    _assert_same_splits(fit(jax.random.key(seed), x, y), sk)
  assert not tree.per_value_bins(len(x), 30, config)  # all 30 features: the table exceeds the budget
  assert tree.per_value_bins(len(x), 30, forest.default_config(num_classes=num_classes))  # sqrt(30) = 5 drawn
  assert not tree.per_value_bins(len(x), 6, tree.default_config(task="regression"))


def test_histogram_search_on_digits_matches_sklearns_tree_quality():
  """digits (pixel values 0..16) takes the histogram search with one bin per value: a deep tree is as
  accurate as sklearn's, and min_samples_leaf still holds."""
  x, y, x_test, y_test, num_classes = _table("digits")
  config = tree.default_config(max_depth=8, num_classes=num_classes, min_samples_leaf=3, splitter="hist")
  prep = tree.prepare(np.asarray(x, np.float32), config)
  assert bool(prep.exact) and int(prep.bins.max()) == 16
  params = jax.jit(functools.partial(tree.fit, config=config))(jax.random.key(0), x, y)
  accuracy = np.mean(np.asarray(tree.predict(params, x_test)) == y_test)
  sk = DecisionTreeClassifier(max_depth=8, min_samples_leaf=3, random_state=0).fit(x, y)
  assert accuracy >= np.mean(sk.predict(x_test) == y_test) - 0.02
  leaf_rows = np.bincount(np.asarray(tree.apply(params, x)))
  assert leaf_rows[leaf_rows > 0].min() >= 3


def test_node_whose_drawn_features_are_all_constant_still_splits():
  """sklearn's draw: when every feature drawn for a node (max_features=1 here) is constant in it, the node
  keeps drawing until a non-constant one. Synthetic data (no real table has this shape): of 8 features, 6
  are constant everywhere, x5 varies only where x3 = 1, and the class is 0 where x3 = 0, else 1 + x5 mod 2,
  so a tree that stops at constant draws misclassifies; sklearn's fits every row. The histogram search (a bin
  per value) must fit every row too."""
  rng = np.random.default_rng(0)
  group = rng.integers(0, 2, 240)
  value = np.where(group == 1, rng.integers(0, 6, 240), 0)
  x = np.tile(np.arange(8, dtype=np.float32), (240, 1))
  x[:, 3], x[:, 5] = group, value
  y = np.where(group == 0, 0, 1 + value % 2)
  sk = DecisionTreeClassifier(max_features=1, random_state=0).fit(x, y)
  np.testing.assert_array_equal(sk.predict(x), y)
  config = tree.default_config(max_depth=6, num_classes=3, max_features=1)
  tree.check_inputs(x, y, config)
  assert bool(tree.prepare(x, config).exact)
  fit = jax.jit(functools.partial(tree.fit, config=config))
  for seed in (0, 1):
    np.testing.assert_array_equal(np.asarray(tree.predict(fit(jax.random.key(seed), x, y), x)), y)


def test_sorted_rows_is_numpys_stable_argsort():
  """sorted_rows (int32 keys, ranks, one more int32 sort) against numpy's stable argsort: digits (many ties),
  breast_cancer, and 37 rows of negative values, zeros of both signs, tiny and huge values and repeats."""
  rng = np.random.default_rng(0)
  small = rng.choice(np.float32([-3.5, -1e-30, -0.0, 0.0, 2.0, 1e30]), (37, 5))
  for x in (_table("digits")[0], _table("breast_cancer")[0], small):
    x = np.asarray(x, np.float32)
    expected = np.argsort(np.where(x == 0, 0.0, x), axis=0, kind="stable")  # −0.0 and 0.0 as one value
    np.testing.assert_array_equal(np.asarray(jax.jit(tree.sorted_rows)(x)), expected)


def test_apply_reaches_the_leaf_of_a_row_by_row_walk():
  """apply (top levels from one dense pass of bit tests, then per-level gathers) against a plain per-row
  walk in numpy, on a depth-9 digits tree whose leaves lie at many depths, and on the test rows."""
  x, y, x_test, _, num_classes = _table("digits")
  params = jax.jit(functools.partial(tree.fit, config=tree.default_config(max_depth=9, num_classes=num_classes)))(
      jax.random.key(0), x, y)
  feature, threshold, is_leaf = (np.asarray(a) for a in (params.feature, params.threshold, params.is_leaf))
  rows = np.concatenate([x, x_test]).astype(np.float32)
  leaf_depths = set()
  expected = []
  for row in rows:
    node, level = 0, 0
    while not is_leaf[node]:
      node, level = 2 * node + 1 + int(row[feature[node]] > threshold[node]), level + 1
    leaf_depths.add(level)
    expected.append((node + 1) * 2 ** (9 - level) - 1)  # a leaf above the last level: its left-spine copy
  assert len(leaf_depths) >= 4
  np.testing.assert_array_equal(np.asarray(jax.jit(tree.apply)(params, rows)), expected)


def test_min_samples_leaf_and_eval_shape():
  x, y, _, _, num_classes = _table("breast_cancer")
  config = tree.default_config(max_depth=4, min_samples_leaf=20, num_classes=num_classes)
  shapes = jax.eval_shape(functools.partial(tree.fit, config=config), jax.random.key(0), x, y)
  assert shapes.value.shape == (31, 2) and shapes.feature.shape == (31,)
  params = tree.fit(jax.random.key(0), x, y, config)
  leaves = np.asarray(tree.apply(params, x))
  assert np.bincount(leaves).max() < len(x) and np.bincount(leaves)[np.unique(leaves)].min() >= 20


def test_forest_of_one_unbootstrapped_tree_is_the_tree():
  x, y, x_test, _, num_classes = _table("iris")
  key = jax.random.key(3)
  forest_config = forest.default_config(n_estimators=1, bootstrap=False, max_features=None, max_depth=4,
                                        num_classes=num_classes)
  one = forest.fit(key, x, y, forest_config)
  # The forest's tree t grows with key split(split(key, T)[t])[1] (the first half draws its bootstrap).
  tree_key = jax.random.split(jax.random.split(key, 1)[0])[1]
  single = tree.fit(tree_key, x, y, tree.default_config(max_depth=4, num_classes=num_classes))
  for got, want in zip(one.trees, single):
    np.testing.assert_array_equal(np.asarray(got[0]), np.asarray(want))
  np.testing.assert_allclose(np.asarray(forest.predict_proba(one, x_test)),
                             np.asarray(tree.predict_proba(single, x_test)))


def test_forest_accuracy_close_to_sklearn_on_digits():
  x, y, x_test, y_test, num_classes = _table("digits")
  config = forest.default_config(n_estimators=30, max_depth=12, num_classes=num_classes, oob_score=True)
  forest.check_inputs(x, y, config)
  params = jax.jit(functools.partial(forest.fit, config=config))(jax.random.key(0), x, y)
  accuracy = np.mean(np.asarray(forest.predict(params, x_test)) == y_test)
  sk = RandomForestClassifier(n_estimators=30, random_state=0, oob_score=True).fit(x, y)
  sk_accuracy = np.mean(sk.predict(x_test) == y_test)
  assert accuracy >= sk_accuracy - 0.02, (accuracy, sk_accuracy)
  assert abs(float(params.oob_score) - sk.oob_score_) < 0.03


@pytest.mark.parametrize("change,message", [
    (lambda x, y: (np.where(np.arange(x.size).reshape(x.shape) == 5, np.nan, x), y, {}), "NaN"),
    (lambda x, y: (x, y[:-1], {}), "same number of rows"),
    (lambda x, y: (x, np.zeros_like(y), {}), "single class"),
    (lambda x, y: (x, y, {"max_depth": 0}), "max_depth"),
    (lambda x, y: (x, y, {"min_samples_leaf": 0}), "min_samples_leaf"),
    (lambda x, y: (x, y, {"n_estimators": 0}), "n_estimators"),
    (lambda x, y: (x, y, {"max_features": 100}), "max_features"),
    (lambda x, y: (x, y, {"num_classes": None}), "num_classes"),
])
def test_bad_input_is_a_user_error(change, message):
  rng = np.random.RandomState(0)
  x, y = rng.rand(20, 3).astype(np.float32), rng.randint(0, 2, 20).astype(np.int32)
  x, y, overrides = change(x, y)
  with pytest.raises(UserError, match=message):
    forest.check_inputs(x, y, forest.default_config(**{"num_classes": 2, **overrides}))


@pytest.mark.parametrize("overrides,message", [({"splitter": "approx"}, "splitter"), ({"max_bins": 1}, "max_bins")])
def test_bad_split_search_settings_are_user_errors(overrides, message):
  x, y = np.random.RandomState(0).rand(20, 3), np.arange(20) % 2
  with pytest.raises(UserError, match=message):
    tree.check_inputs(x, y, tree.default_config(num_classes=2, **overrides))


def test_unknown_config_field_is_a_user_error():
  with pytest.raises(UserError, match="max_dpeth"):
    tree.default_config(max_dpeth=3)


_SHARDED = """
import jax, numpy as np
from dljax.classic import forest
rng = np.random.RandomState(0)
x = rng.rand(60, 4).astype(np.float32); y = (x[:, 0] + x[:, 1] > 1).astype(np.int32)
c = forest.default_config(n_estimators=3, max_depth=3, num_classes=2)
p = jax.jit(lambda k, x, y: forest.fit(k, x, y, c))(jax.random.key(0), x, y)
print(jax.device_count(), repr(np.asarray(p.trees.threshold).round(5).tolist()))
"""


def test_forest_on_two_devices_grows_the_same_trees():
  """The tree axis split over a 2-device mesh (padded 3 -> 4 trees) gives the 1-device trees."""
  outs = []
  for devices in (1, 2):
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}", "JAX_PLATFORMS": "cpu"}
    run = subprocess.run([sys.executable, "-c", _SHARDED], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    count, thresholds = run.stdout.strip().splitlines()[-1].split(" ", 1)
    assert int(count) == devices
    outs.append(thresholds)
  assert outs[0] == outs[1]
