"""A ``pickle_module`` for ``torch.save``/``torch.load`` that pickles with cloudpickle.

torch needs ``Pickler``/``Unpickler`` names that cloudpickle itself does not export; cloudpickle
lets classes defined in a notebook (``__main__``) be saved by value. MLflow's
``mlflow.pytorch.pickle_module`` is the same thing, so models that name it load here without
MLflow installed.
"""

from __future__ import annotations

from pickle import Unpickler

from cloudpickle import CloudPickler as Pickler
from cloudpickle import dump, dumps, load, loads

__all__ = ["Pickler", "Unpickler", "dump", "dumps", "load", "loads"]
