"""dljax: a JAX functional research codebase.

Library entry points (usable from a notebook, no flags parsed):
  dljax.registry.get_config(name)          -> the experiment's locked ConfigDict
  dljax.train.loop.train_and_evaluate(config, workdir) -> summary dict
"""

__version__ = "0.1.0"
