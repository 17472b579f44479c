"""The multi-process flags every experiment binary takes.

  --coordinator_address=host:port --num_processes=N --process_id=i

or none of them, when the cluster's environment (SLURM, a TPU pod slice)
names the processes. `initialize()` must run before anything touches a
device.
"""

from absl import flags

flags.DEFINE_string('coordinator_address', '', 'Multi-process runs: host:port '
                    'of process 0 (none: the cluster environment decides).')
flags.DEFINE_integer('num_processes', 0, 'Multi-process runs: processes.')
flags.DEFINE_integer('process_id', -1, 'Multi-process runs: this process.')
flags.DEFINE_integer('heartbeat_timeout_s', 60, 'Multi-process runs: a '
                     'silent process stops the others after this long.')
FLAGS = flags.FLAGS


def initialize() -> bool:
  """Joins the run's processes (if it has several); see
  `jaxcompress.distributed.initialize`."""
  from jaxcompress import distributed
  return distributed.initialize(FLAGS.coordinator_address,
                                FLAGS.num_processes, FLAGS.process_id,
                                FLAGS.heartbeat_timeout_s)
