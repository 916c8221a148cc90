"""Classical learners (dljax/classic) on scikit-learn's bundled data, each fitted in one compiled call.

Splits are the data layer's fixed ones (digits: stratified 75/25, seed 0; the tables: 75/25, seed 0,
stratified for classes). Hyper-parameters equal scikit-learn's where both have them, so
benchmarks/classic.py can put the two side by side.
"""

from dljax.experiments._base import classic_config
from dljax.registry import register


def _exp(name, dataset, description):
  return register(name, kind="supervised", dataset=dataset, description=description)


@_exp("digits_logreg_exact", "digits", "multinomial logistic regression (C=1) solved to optimum by Newton")
def digits_logreg_exact():
  """L2 multinomial logistic regression, C=1, Newton's method to a gradient tolerance: the optimum of
  scikit-learn's LogisticRegression objective (digits_logreg is the minibatch-Adam version).

  Run: dljax run digits_logreg_exact --workdir /tmp/digits_logreg_exact
  Result: test accuracy 0.9689 (loss 0.156; scikit-learn's LogisticRegression(C=1): 0.9689),
  fit 1.3 s incl. compile, 6.7 s wall on 2 CPU cores, no accelerator (2026-11-25).
  """
  return classic_config(source="digits", learner="logistic", model={"C": 1.0}, standardize=False)


@_exp("digits_svm", "digits", "RBF-kernel SVM (C=10, gamma='scale'), one-vs-one, SMO dual solver")
def digits_svm():
  """SVC with an RBF kernel, C=10, gamma='scale', solved in the dual (one-vs-one).

  Run: dljax run digits_svm --workdir /tmp/digits_svm
  Result: test accuracy 0.9911 (scikit-learn's SVC(C=10): 0.9911), fit 1.5 s incl. compile, 6.8 s wall
  on 2 CPU cores, no accelerator (2026-11-25, idle).
  """
  return classic_config(source="digits", learner="svm", model={"kernel": "rbf", "C": 10.0, "gamma": "scale"},
                        standardize=False)


@_exp("digits_tree", "digits", "decision tree (gini, exact thresholds)")
def digits_tree():
  """CART classification tree, gini impurity, scikit-learn's exact thresholds (found by the histogram search:
  digits' pixels have <= 17 distinct values, one bin each).

  Run: dljax run digits_tree --workdir /tmp/digits_tree
  Result: test accuracy 0.8711 (scikit-learn's DecisionTreeClassifier(max_depth=12): 0.856),
  fit 3.1 s incl. compile, 9.4 s wall on 2 CPU cores, no accelerator (2026-11-25, idle).
  """
  return classic_config(source="digits", learner="tree",
                        model={"task": "classification", "criterion": "gini", "max_depth": 12}, standardize=False)


@_exp("digits_forest", "digits", "random forest, 100 trees, sqrt features per split, bootstrap")
def digits_forest():
  """Random forest: 100 gini trees on bootstrap samples, sqrt(D) features per split (histogram split
  search: digits' pixels have <= 17 values, so the bins are exact).

  Run: dljax run digits_forest --workdir /tmp/digits_forest
  Result: test accuracy 0.9733 (scikit-learn's RandomForestClassifier: 0.982; over seeds 0-49 the means are
  0.9736 vs 0.9730), fit 4.3 s incl. compile, 11.5 s wall on 2 CPU cores, no accelerator (2026-11-25, idle).
  """
  return classic_config(source="digits", learner="forest",
                        model={"task": "classification", "n_estimators": 100, "max_features": "sqrt",
                               "max_depth": 12, "splitter": "exact"}, standardize=False)


@_exp("breast_cancer_logreg", "breast_cancer", "binary logistic regression (C=1), standardised features")
def breast_cancer_logreg():
  """L2 logistic regression, C=1, on features standardised with training statistics.

  Run: dljax run breast_cancer_logreg --workdir /tmp/breast_cancer_logreg
  Result: test accuracy 0.9580 (137 of 143), equal to scikit-learn's at every C in 0.03..1 on this split,
  fit 1.1 s incl. compile, 6.2 s wall on 2 CPU cores, no accelerator (2026-11-25).
  """
  return classic_config(source="breast_cancer", learner="logistic", model={"C": 1.0}, standardize=True)


@_exp("breast_cancer_svm", "breast_cancer", "linear SVM (C=1), standardised features")
def breast_cancer_svm():
  """SVC with a linear kernel, C=1, on standardised features.

  Run: dljax run breast_cancer_svm --workdir /tmp/breast_cancer_svm
  Result: test accuracy 0.9650 (scikit-learn's SVC(kernel='linear'): 0.9650), fit 0.6 s incl.
  compile, 5.8 s wall on 2 CPU cores, no accelerator (2026-11-25).
  """
  return classic_config(source="breast_cancer", learner="svm", model={"kernel": "linear", "C": 1.0},
                        standardize=True)


@_exp("breast_cancer_forest", "breast_cancer", "random forest, 100 trees")
def breast_cancer_forest():
  """Random forest: 100 gini trees, bootstrap, sqrt(D) features per split.

  Run: dljax run breast_cancer_forest --workdir /tmp/breast_cancer_forest
  Result: test accuracy 0.9441 on seed 0 (scikit-learn's RandomForestClassifier, random_state=0: 0.944);
  seeds 0-4: 0.9538 ± 0.0063 (scikit-learn's 0.9483); fit 2.5 s incl. compile on 2 CPU cores, no
  accelerator (2026-11-25).
  """
  return classic_config(source="breast_cancer", learner="forest",
                        model={"task": "classification", "n_estimators": 100, "max_features": "sqrt",
                               "max_depth": 12, "splitter": "exact"}, standardize=False)


@_exp("diabetes_linear", "diabetes", "ordinary least squares (closed form)")
def diabetes_linear():
  """Least squares with intercept, closed form.

  Run: dljax run diabetes_linear --workdir /tmp/diabetes_linear
  Result: test R² 0.3594 (scikit-learn's LinearRegression: 0.3594), mse 3180, 5.3 s wall on 2 CPU cores,
  no accelerator (2026-11-25).
  """
  return classic_config(source="diabetes", learner="linear", model={"alpha": 0.0}, standardize=True)


@_exp("diabetes_poly", "diabetes", "degree-2 polynomial features + ridge")
def diabetes_poly():
  """PolynomialFeatures(degree=2) with interactions, then ridge (alpha=1) on standardised inputs.

  Run: dljax run diabetes_poly --workdir /tmp/diabetes_poly
  Result: test R² 0.2487, mse 3730 (scikit-learn's PolynomialFeatures(2) + Ridge(alpha=1): the same
  coefficients, tests/classic/test_linear.py), 5.7 s wall on 2 CPU cores, no accelerator (2026-11-25).
  """
  return classic_config(source="diabetes", learner="polynomial", model={"degree": 2, "alpha": 1.0},
                        standardize=True)


@_exp("diabetes_forest", "diabetes", "random forest regression, 100 trees")
def diabetes_forest():
  """Random forest regression: 100 squared-error trees, bootstrap, all features per split (sklearn's default).

  Run: dljax run diabetes_forest --workdir /tmp/diabetes_forest
  Result: test R² 0.2404 (scikit-learn's RandomForestRegressor: 0.219), fit 4.1 s incl. compile,
  10 s wall on 2 CPU cores, no accelerator (2026-11-25).
  """
  return classic_config(source="diabetes", learner="forest",
                        model={"task": "regression", "n_estimators": 100, "max_depth": 12, "splitter": "exact"},
                        standardize=False)


@_exp("diabetes_svr", "diabetes", "RBF epsilon-SVR on standardised features")
def diabetes_svr():
  """epsilon-SVR, RBF kernel, C=100, epsilon=0.1 (targets are not scaled), standardised inputs.

  Run: dljax run diabetes_svr --workdir /tmp/diabetes_svr
  Result: test R² 0.2160, mse 3892 (scikit-learn's SVR with the same settings: benchmarks/classic.py),
  6.2 s wall on 2 CPU cores, no accelerator (2026-11-25).
  """
  return classic_config(source="diabetes", learner="svr", model={"kernel": "rbf", "C": 100.0, "epsilon": 0.1},
                        standardize=True)
