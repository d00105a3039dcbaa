"""memlib: memorization scores by turn-over dropout (Liu, Lin & Jaggi 2021), reproducibly.

Front API::

    import memlib
    run = memlib.score_run(memlib.RunConfig(dataset="mnist", epochs=20))
    run.table        # one row per training example: score, losses and predictions
    run.history      # one row per epoch: accuracies of the full, unmuted and muted networks
"""

from .config import RunConfig
from .data import Dataset, corrupt_labels, load_dataset
from .errors import MemlibError
from .masks import TurnoverDropout, mask_bits
from .models import MLP, build_model
from .params import load_profile, notebook_params
from .runs import DynamicsRun, ScoreRun, dynamics_run, run_data, score_run
from .scores import evaluate, memorization_score, score_table
from .training import Schedule, train

__version__ = "0.1.0"
__all__ = [
    "MLP",
    "Dataset",
    "DynamicsRun",
    "MemlibError",
    "RunConfig",
    "Schedule",
    "ScoreRun",
    "TurnoverDropout",
    "build_model",
    "corrupt_labels",
    "dynamics_run",
    "evaluate",
    "load_dataset",
    "load_profile",
    "mask_bits",
    "memorization_score",
    "notebook_params",
    "run_data",
    "score_run",
    "score_table",
    "train",
]
