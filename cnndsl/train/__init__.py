"""Training and evaluation of compiled specs: `cnndsl train` and `cnndsl eval`.

Layout, one topic per file:

- ``config``      the run's settings (TrainConfig) and their defaults
- ``data/``       the data-source registry (digits, imagefolder, cifar10, mnist, synthetic)
- ``adapt``       fitting a data set to a spec: input size, channels, class count
- ``checkpoint``  atomic save, safe load (weights_only), spec identity checks
- ``rundir``      the run folder: never overwrite another run, writable before training
- ``device``      device, autocast, channels_last and torch.compile choices
- ``batches``     in-memory and DataLoader batch iteration, sharded for DDP
- ``loop``        the epoch loop: train, validate, log, checkpoint, resume
- ``progress``    the progress bar (rich on a terminal, plain lines otherwise)
- ``metrics``     metrics.csv and curves.png
- ``transfer``    --init (weights by declaration order) and --freeze
- ``distributed`` DDP: process group, spawning workers, reductions
- ``evaluate``    accuracy and confusion matrix of a trained checkpoint

Everything here imports torch; the command modules import this package only
inside ``run()`` so that `cnndsl check` stays torch-free.
"""

from cnndsl.train.errors import CheckpointError, DataError, Diverged, TrainError

__all__ = ["CheckpointError", "DataError", "Diverged", "TrainError"]
