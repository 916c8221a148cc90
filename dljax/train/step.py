"""The one jitted supervised train step `(state, batch) -> (state, metrics)` and its eval step.

Shardings come from the mesh: the state is replicated, the batch is split along the `data` axis,
and XLA inserts the gradient all-reduce (and BatchNorm's cross-device mean), so the same program
runs on 1 or N devices and gives the same numbers up to float summation order.
"""

import jax
import jax.numpy as jnp
import optax

from dljax import parallel
from dljax.tasks import supervised
from dljax.train.state import TrainState


def _variables(state_params, batch_stats):
  variables = {"params": state_params}
  if batch_stats:
    variables["batch_stats"] = batch_stats
  return variables


def train_step_fn(model, tx, *, loss_name: str, flip: bool = False, crop_padding: int = 0):
  """The pure step `(state, batch, root_key) -> (state, metrics)`, not jitted: `make_train_step` jits it
  for one run; dljax.launch.vmap_seeds vmaps it over seeds (one root key per seed)."""

  def train_step(state: TrainState, batch, root_key):
    key = jax.random.fold_in(root_key, state.step)
    augment_key, dropout_key = jax.random.split(key)
    x = batch["x"]
    if flip or crop_padding:
      x = supervised.augment_images(augment_key, x, flip=flip, crop_padding=crop_padding)

    def loss_fn(params):
      outputs, updates = model.apply(_variables(params, state.batch_stats), x, train=True,
                                     rngs={"dropout": dropout_key}, mutable=["batch_stats"])
      loss = supervised.example_losses(loss_name, outputs, batch["y"]).mean()
      return loss, (outputs, updates)

    (loss, (outputs, updates)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    param_updates, opt_state = tx.update(grads, state.opt_state, state.params)
    new_state = state.replace(step=state.step + 1,
                              params=optax.apply_updates(state.params, param_updates),
                              batch_stats=updates.get("batch_stats", state.batch_stats),
                              opt_state=opt_state)
    # The loss of step k is measured before its update, so an update that overflows the parameters
    # shows only in the next loss; `finite` flags it at the step itself (one cheap reduction).
    finite = jnp.all(jnp.array([jnp.isfinite(p).all() for p in jax.tree.leaves(new_state.params)]))
    metrics = {"loss": loss, "grad_norm": optax.tree.norm(grads), "finite": finite}
    if loss_name == "cross_entropy":
      metrics["accuracy"] = jnp.mean(outputs.argmax(-1) == batch["y"])
    return new_state, metrics

  return train_step


def make_train_step(model, tx, *, loss_name: str, root_key, mesh, state_sharding,
                    flip: bool = False, crop_padding: int = 0):
  """Returns jit(train_step). Keys: fold_in(root_key, step), so a resumed run draws the same ones."""
  step = train_step_fn(model, tx, loss_name=loss_name, flip=flip, crop_padding=crop_padding)
  return jax.jit(lambda state, batch: step(state, batch, root_key),
                 in_shardings=(state_sharding, parallel.batch_sharded(mesh)),
                 out_shardings=(state_sharding, parallel.replicated(mesh)), donate_argnums=0)


def make_eval_step(model, *, loss_name: str, mesh, state_sharding):
  """Returns jit(eval_step): sums over a padded batch (mask=0 on padding). No dropout, running BN stats."""
  batch_sharding = parallel.batch_sharded(mesh)

  def eval_step(state: TrainState, batch):
    outputs = model.apply(_variables(state.params, state.batch_stats), batch["x"], train=False)
    return supervised.eval_sums(loss_name, outputs, batch["y"], batch["mask"])

  return jax.jit(eval_step, in_shardings=(state_sharding, batch_sharding),
                 out_shardings=parallel.replicated(mesh))
