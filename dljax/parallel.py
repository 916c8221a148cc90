"""Mesh and shardings. One code path for 1 CPU device, 8 fake devices, many GPUs/TPUs and many hosts:
parameters replicated, batches sharded along the mesh's `data` axis and built per host."""

import dataclasses
import os
import socket
import time

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from dljax.errors import UserError

DATA_AXIS = "data"
DEFAULT_INIT_TIMEOUT_S = 300  # jax.distributed.initialize's own default


@dataclasses.dataclass(frozen=True)
class DistributedSpec:
  """How this process joins a multi-process job. `coordinator` None: let jax detect the cluster
  (SLURM, Cloud TPU VM) from its environment."""
  coordinator: str | None
  num_processes: int | None
  process_id: int | None
  timeout_s: int = DEFAULT_INIT_TIMEOUT_S
  cluster: str = "explicit"  # explicit | slurm | tpu


def _int_setting(value, name: str) -> int:
  try:
    return int(value)
  except (TypeError, ValueError):
    raise UserError(f"{name}={value!r}: expected an integer") from None


def distributed_spec(coordinator: str | None = None, num_processes: int | None = None,
                     process_id: int | None = None, timeout_s: int | None = None,
                     environ=None) -> DistributedSpec | None:
  """The job this process belongs to, from flags first, then the environment; None on one host.

  Explicit: flags or DLJAX_COORDINATOR (host:port), DLJAX_NUM_PROCESSES, DLJAX_PROCESS_ID.
  Automatic: a SLURM step of more than one task (SLURM_NTASKS > 1), or a Cloud TPU VM slice of more
  than one worker (TPU_WORKER_HOSTNAMES lists several hosts), or DLJAX_DISTRIBUTED=auto (set by
  launch/tpu_vm.py); jax reads the addresses itself there. DLJAX_INIT_TIMEOUT (seconds) bounds the wait.
  """
  env = os.environ if environ is None else environ
  coordinator = coordinator or env.get("DLJAX_COORDINATOR") or None
  num_processes = num_processes if num_processes is not None else env.get("DLJAX_NUM_PROCESSES")
  process_id = process_id if process_id is not None else env.get("DLJAX_PROCESS_ID")
  timeout_s = _int_setting(timeout_s if timeout_s is not None else env.get("DLJAX_INIT_TIMEOUT",
                                                                           DEFAULT_INIT_TIMEOUT_S),
                           "DLJAX_INIT_TIMEOUT / --init_timeout")
  if timeout_s < 1:
    raise UserError(f"--init_timeout={timeout_s}: give a number of seconds >= 1")
  if coordinator:
    if num_processes is None or process_id is None:
      raise UserError(f"coordinator {coordinator} given without the number of processes and this process's id: "
                      "set --num_processes and --process_id (or DLJAX_NUM_PROCESSES and DLJAX_PROCESS_ID)")
    host, _, port = coordinator.rpartition(":")
    if not host or not port.isdigit():
      raise UserError(f"coordinator address {coordinator!r}: expected HOST:PORT, e.g. 10.0.0.2:1234")
    n = _int_setting(num_processes, "--num_processes")
    i = _int_setting(process_id, "--process_id")
    if n < 1 or not 0 <= i < n:
      raise UserError(f"--process_id={i} with --num_processes={n}: need num_processes >= 1 and "
                      f"0 <= process_id < num_processes")
    return DistributedSpec(coordinator, n, i, timeout_s)
  if num_processes is not None or process_id is not None:
    raise UserError("--num_processes/--process_id need a coordinator: set --coordinator HOST:PORT "
                    "(or DLJAX_COORDINATOR)")
  if env.get("DLJAX_DISTRIBUTED") == "auto":  # launch/tpu_vm.py: jax reads the cluster itself
    return DistributedSpec(None, None, None, timeout_s, cluster="auto")
  if int(env.get("SLURM_NTASKS", "1") or 1) > 1 and "SLURM_STEP_NODELIST" in env:
    return DistributedSpec(None, None, None, timeout_s, cluster="slurm")
  if len([h for h in env.get("TPU_WORKER_HOSTNAMES", "").split(",") if h]) > 1:
    return DistributedSpec(None, None, None, timeout_s, cluster="tpu")
  return None


def _wait_for_coordinator(coordinator: str, timeout_s: float) -> None:
  """Process k > 0: returns once the coordinator's port accepts TCP connections, or raises UserError
  after `timeout_s`. jax's own client aborts the whole process (a fatal log, no exception) when it
  cannot register, so the reachability is checked here first."""
  host, _, port = coordinator.rpartition(":")
  host = host.strip("[]")
  deadline = time.monotonic() + timeout_s
  last_error = None
  while True:
    try:
      with socket.create_connection((host, int(port)), timeout=min(2.0, timeout_s)):
        return
    except OSError as e:
      last_error = e
    if time.monotonic() >= deadline:
      break
    time.sleep(0.25)
  reason = getattr(last_error, "strerror", None) or str(last_error)
  raise UserError(f"coordinator {coordinator} unreachable after {timeout_s:g}s ({reason}): start process 0 "
                  f"first, check the address and firewall, or raise --init_timeout")


def _check_bindable(coordinator: str) -> None:
  """Process 0 serves the coordinator on the address's port: a port already taken is a clear error."""
  port = int(coordinator.rpartition(":")[2])
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
      s.bind(("", port))
    except OSError as e:
      raise UserError(f"coordinator port {port} cannot be served by process 0 ({e.strerror}): "
                      "pick a free port in --coordinator") from None


def initialize_distributed(spec: DistributedSpec | None) -> None:
  """Joins the job `spec` describes (a no-op for None or when already joined).

  CPU processes exchange collectives through gloo (jax_cpu_collectives_implementation), the
  setting multi-process CPU runs need; GPUs and TPUs use their own interconnect. Processes k > 0 check
  the coordinator answers before joining (a clear error after the timeout); process 0 serves it and
  waits up to the timeout for the others, after which jax itself ends the process with a fatal log
  (jax 0.10.2 aborts there rather than raising, so it cannot be turned into a one-line error).
  """
  if spec is None or jax.distributed.is_initialized():
    return
  if spec.coordinator is not None:
    if spec.process_id == 0:
      _check_bindable(spec.coordinator)
    else:
      _wait_for_coordinator(spec.coordinator, spec.timeout_s)
  if not os.environ.get("JAX_CPU_COLLECTIVES_IMPLEMENTATION"):
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
  try:
    jax.distributed.initialize(coordinator_address=spec.coordinator, num_processes=spec.num_processes,
                               process_id=spec.process_id, initialization_timeout=spec.timeout_s)
  except (RuntimeError, ValueError) as e:
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    where = spec.coordinator or f"the {spec.cluster} cluster"
    raise UserError(f"joining the multi-process job at {where} failed: {first[:300]}") from None


def maybe_initialize_distributed():
  """Joins a multi-process job when the flags (via the environment) or the cluster describe one."""
  initialize_distributed(distributed_spec())


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
