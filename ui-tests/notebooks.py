"""Notebooks the UI tests run, written into the lab's folder by the fixtures.

``live.ipynb`` logs three runs of a small "training" loop: the first two end on their own, the
last one keeps logging until the test creates a stop file, so the test can watch a run that is
still RUNNING and its metric values change in the sidebar, without guessing how fast the
machine is. Each run logs params, a loss curve, an accuracy, a PNG figure and a JSON file; a
last cell logs a scikit-learn model with the MLflow client, to register from the UI.
"""

from __future__ import annotations

import json
from pathlib import Path

LIVE_EXPERIMENT = "ui-live"
STOP_FILE = "stop-live-runs"

_SETUP = f"""\
%load_ext jupyter_mltrack
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import jupyter_mltrack as mlt

mlt.set_experiment("{LIVE_EXPERIMENT}")
rng = np.random.default_rng(0)"""

_TRAIN = f"""\
def train(lr, run_name, until_stopped=False):
    with mlt.start_run(run_name=run_name) as run:
        mlt.log_params({{"lr": lr, "optimizer": "sgd", "batch_size": 32}})
        losses = []
        step = 0
        stop = Path("{STOP_FILE}")
        # the last run logs until the test says stop (at most ten minutes)
        while step < 30 or (until_stopped and not stop.exists() and step < 12_000):
            loss = float(np.exp(-lr * step / 4) + 0.02 * rng.random())
            losses.append(loss)
            mlt.log_metric("loss", loss, step=step)
            step += 1
            time.sleep(0.05)
        mlt.log_metric("accuracy", 1.0 - losses[-1] / 2)
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.plot(losses)
        ax.set_title(f"loss, lr={{lr}}")
        mlt.log_figure(fig, "plots/loss.png")
        plt.close(fig)
        mlt.log_dict({{"lr": lr, "steps": step}}, "config.json")
        return run.info.run_id


first = train(0.5, "lr-0.5")
second = train(0.2, "lr-0.2")"""

_LAST = """\
last = train(0.1, "lr-0.1", until_stopped=True)
print("done", first, second, last)"""

_MODEL = f"""\
# A model logged by the stock MLflow client through the server's MLflow API: the lab's own
# tracking server is this kernel's store, and MLflow code logs into it unchanged.
import os

import mlflow
import mlflow.sklearn
from sklearn.linear_model import LogisticRegression

mlflow.set_tracking_uri(os.environ["MLTRACK_SERVER_URL"])
os.environ["MLFLOW_TRACKING_TOKEN"] = os.environ["MLTRACK_SERVER_TOKEN"]
mlflow.set_experiment("{LIVE_EXPERIMENT}")
with mlflow.start_run(run_name="with-model"):
    x = rng.random((40, 3))
    y = (x[:, 0] > 0.5).astype(int)
    mlflow.log_param("C", 1.0)
    model = LogisticRegression(C=1.0).fit(x, y)
    mlflow.log_metric("accuracy", float(model.score(x, y)))
    mlflow.sklearn.log_model(model, name="classifier")
print("model logged")"""


def _cell(cell_id: str, source: str) -> dict:
    return {
        "cell_type": "code",
        "id": cell_id,
        "metadata": {},
        "execution_count": None,
        "outputs": [],
        "source": source,
    }


def write_live_notebook(folder: Path, name: str = "live.ipynb") -> Path:
    """Write the live-logging notebook into ``folder``; returns its path."""
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": [
            _cell("setup", _SETUP),
            _cell("train", _TRAIN),
            _cell("last-run", _LAST),
            _cell("model", _MODEL),
        ],
    }
    path = folder / name
    path.write_text(json.dumps(notebook, indent=1))
    return path
