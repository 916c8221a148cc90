"""The `ml_vs_dl` ablation: classical learning on hand-made features and on raw pixels against an MLP
and a CNN on Fashion-MNIST, across training-set sizes, several seeds each. One registered experiment;
the sweep machinery runs the grid and the report makes the table and the plot:

  dljax sweep ml_vs_dl --workdir runs/ml_vs_dl --seeds 3 \\
      --grid method=hog_logreg,pixels_logreg,mlp,cnn --grid train_size=500,2000,10000,60000
  dljax report runs/ml_vs_dl --x train_size     # results.md/.csv, accuracy_vs_train_size.png

Each run draws its `train_size` training images at random from the 60,000 (the seed picks them; at
60,000 every seed has every image) and is scored on the full 10,000-image test split. Methods:
  * hog_logreg:    HOG features (scikit-image: 9 orientations, 7x7-pixel cells, 2x2-cell blocks, L2-Hys;
                   324 numbers per image), standardised, multinomial logistic regression (C=1, Newton-CG,
                   dljax.classic.logistic) fitted to its optimum;
  * pixels_logreg: the same learner on the 784 raw pixels, standardised;
  * mlp:           MLP 256-128 ReLU, dropout 0.2, Adam + cosine;
  * cnn:           CNN 32-64 conv (batch norm, max pool, dropout 0.25) + FC 128 (dropout 0.5), Adam + cosine.
Compute budget: the networks train min(30 epochs, 1,200 steps) at batch 128, so at 60,000 images they
get 2.6 epochs and at 10,000 15 epochs: their numbers at 10k-60k are lower bounds on what the
architectures reach (fashion_mnist_mlp: 0.905 in 30 epochs; fashion_mnist_cnn: 0.933 in 40). The
classical learner is scikit-learn's default (C=1), untuned: on raw pixels it fits the training subset
exactly (train error 0) and its test loss (~1.0) shows over-confidence, so a tuned C would raise it.
HOG features of all 70,000 images are computed once and cached beside the data dir (dljax/data/features.py).

The measured table and what it says: benchmarks/README.md, section "ml_vs_dl".
"""

import ml_collections

from dljax.experiments._base import classic_config, minibatch_config
from dljax.registry import register

FULL_TRAIN = 60_000


def _arms(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """One complete config per method; the fields a sweep varies are references to c's top-level fields."""
  arms = ml_collections.ConfigDict()
  for method, source in (("hog_logreg", "fashion_mnist_hog"), ("pixels_logreg", "fashion_mnist")):
    arm = classic_config(source=source, learner="logistic", standardize=True,
                         model={"C": c.get_ref("logreg_C"), "max_iter": c.get_ref("logreg_max_iter"),
                                "solver": "newton-cg"})
    arms[method] = arm
  models = {"mlp": {"name": "mlp", "hidden": (256, 128), "activation": "relu", "dropout": 0.2},
            "cnn": {"name": "cnn", "conv_features": (32, 64), "dense": (128,), "pool": "max", "batch_norm": True,
                    "conv_dropout": 0.25, "dense_dropout": 0.5}}
  for method, model in models.items():
    arm = minibatch_config(task="classification", source="fashion_mnist", model=model, batch_size=128,
                           num_epochs=30, learning_rate=1e-3, schedule="cosine")
    arm.batch_size = c.get_ref("batch_size")
    arm.optimizer.learning_rate = c.get_ref("learning_rate")
    arm.num_epochs = c.get_ref("max_epochs")
    arm.max_train_steps = c.get_ref("max_steps")  # the compute budget: min(max_epochs epochs, max_steps)
    arm.log_every_steps = c.get_ref("log_every_steps")
    arm.checkpoint_every_steps = c.get_ref("checkpoint_every_steps")
    arms[method] = arm
  for arm in arms.values():
    arm.seed = c.get_ref("seed")
    arm.data.train_subset = c.get_ref("train_size")  # rows drawn by the seed; all 60,000 in order at 60,000
    arm.keep_checkpoints = c.get_ref("keep_checkpoints")
  return arms


@register("ml_vs_dl", kind="supervised", dataset="fashion_mnist",
          description="ablation: logistic regression on HOG / raw pixels vs MLP vs CNN across training-set sizes")
def ml_vs_dl():
  """One point of the ablation (method, train_size, seed); the module docstring describes the sweep.

  Run: dljax run ml_vs_dl --workdir /tmp/ml_vs_dl --config.method=hog_logreg --config.train_size=2000
  Result: the 48-run sweep's table is in benchmarks/README.md (ml_vs_dl); at 10,000 images, test accuracy
  CNN 0.8720, MLP 0.8606, HOG + logistic regression 0.8184, pixels + logistic regression 0.7956 (mean of
  3 seeds; 2 CPU cores, 2026-11-25).
  """
  c = ml_collections.ConfigDict()
  c.trainer = "choice"
  c.seed = 0
  c.method = "cnn"                 # hog_logreg | pixels_logreg | mlp | cnn
  c.train_size = FULL_TRAIN        # images drawn (by the seed) from the 60,000 training images
  c.logreg_C = 1.0                 # classical learners: inverse L2 strength
  c.logreg_max_iter = 30           # Newton steps
  c.batch_size = 128               # networks
  c.learning_rate = 1e-3
  c.max_epochs = 30                # networks train min(max_epochs epochs, max_steps steps)
  c.max_steps = 1200
  c.log_every_steps = 100
  c.eval_every_steps = 0
  c.checkpoint_every_steps = 600
  c.keep_checkpoints = 1
  c.methods = _arms(c)
  return c
