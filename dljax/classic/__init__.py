"""Non-neural learners as pure, jit-compiled functions: `fit(key, x, y, config) -> params`,
`predict(params, x)` (plus `predict_proba` / `decision_function` where they make sense).

Each learner module reads top to bottom with the objective it minimises in its docstring. `config` is
a hashable `ml_collections.FrozenConfigDict` of the learner's hyper-parameters, so `fit` compiles
once per setting (`jax.jit(functools.partial(fit, config=config))`); params are fixed-shape pytrees.
"""
