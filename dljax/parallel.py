"""Mesh and shardings. One code path for 1 CPU device, 8 fake devices, many GPUs/TPUs and many hosts:
parameters replicated, batches sharded along the mesh's `data` axis and built per host."""

import os

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA_AXIS = "data"


def maybe_initialize_distributed():
  """Joins a multi-host job when the environment describes one (a no-op on one host).

  `jax.distributed.initialize()` reads SLURM and Cloud TPU environments itself; elsewhere set
  DLJAX_COORDINATOR (host:port), DLJAX_NUM_PROCESSES and DLJAX_PROCESS_ID.
  """
  if jax.distributed.is_initialized():
    return
  coordinator = os.environ.get("DLJAX_COORDINATOR")
  if coordinator:
    jax.distributed.initialize(coordinator_address=coordinator,
                               num_processes=int(os.environ["DLJAX_NUM_PROCESSES"]),
                               process_id=int(os.environ["DLJAX_PROCESS_ID"]))


def make_mesh(devices=None) -> Mesh:
  devices = jax.devices() if devices is None else devices
  return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharded(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P(DATA_AXIS))


def host_batch_size(global_batch: int) -> int:
  return global_batch // jax.process_count()


def to_global_batch(mesh: Mesh, local_batch):
  """Host-local numpy arrays (this host's rows) -> global jax arrays sharded on the batch axis."""
  sharding = batch_sharded(mesh)
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), local_batch)


def replicate(mesh: Mesh, tree):
  """Places a pytree of arrays replicated on every device of the mesh."""
  return jax.device_put(tree, replicated(mesh))
