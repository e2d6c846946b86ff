"""The jupyter-mltrack demo: a small hyperparameter search, tracked, then compared.

Trains scikit-learn classifiers over a grid on the digits dataset (shipped with scikit-learn, no
download), logs each as a nested run under one parent, prints a comparison of the runs read back
through the search API, then registers the best model, gives it the alias ``champion`` and
scores a few rows through a local scoring server. Runs on the default store
(``$MLTRACK_STORE`` or ``~/.mltrack``) unless ``--store`` is given.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
import urllib.request
from typing import Any

import jupyter_mltrack as mlt

REGISTERED = "digits-classifier"
GRID = {
    "random_forest": {"n_estimators": [25, 100], "max_depth": [3, None]},
    "logistic_regression": {"C": [0.1, 1.0, 10.0]},
    "knn": {"n_neighbors": [3, 7]},
}


def _model(kind: str, params: dict) -> Any:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "random_forest":
        return RandomForestClassifier(random_state=0, **params)
    if kind == "logistic_regression":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, **params))
    return make_pipeline(StandardScaler(), KNeighborsClassifier(**params))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", help="store directory (default: the default store)")
    args = parser.parse_args()

    from sklearn.datasets import load_digits
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import cross_val_score, train_test_split

    store = mlt.set_store(args.store)
    print(f"jupyter-mltrack store: {store}")
    experiment = mlt.set_experiment("digits-demo")

    data = load_digits(as_frame=True)
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.3, random_state=0, stratify=data.target
    )
    train = x_train.assign(target=y_train)

    with mlt.start_run(run_name=f"grid-{time.strftime('%H%M%S')}") as parent:
        mlt.log_input(mlt.data.from_pandas(train, name="digits-train"), context="training")
        mlt.log_param("models", ",".join(GRID))
        for kind, grid in GRID.items():
            keys = list(grid)
            for values in itertools.product(*(grid[k] for k in keys)):
                params = dict(zip(keys, values))
                label = ", ".join(f"{k}={v}" for k, v in params.items())
                with mlt.start_run(run_name=f"{kind} {label}", nested=True):
                    mlt.log_params({"model": kind, **params})
                    model = _model(kind, params)
                    # the cross-validation scores become a short metric history
                    folds = cross_val_score(model, x_train, y_train, cv=3)
                    mlt.log_metric_series("cv_accuracy", folds)
                    model.fit(x_train, y_train)
                    predicted = model.predict(x_test)
                    mlt.log_metrics(
                        {
                            "accuracy": accuracy_score(y_test, predicted),
                            "f1_macro": f1_score(y_test, predicted, average="macro"),
                            "cv_mean": float(folds.mean()),
                        }
                    )
        mlt.set_tag("best_by", "metrics.accuracy")

    runs = mlt.search_runs(
        experiment_ids=[experiment.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        order_by=["metrics.accuracy DESC", "metrics.cv_mean DESC"],
    )
    columns = ["run_name", "params.model"]
    columns += ["metrics.accuracy", "metrics.f1_macro", "metrics.cv_mean"]
    print(f"\n{len(runs)} runs under {parent.info.run_name} ({parent.info.run_id}):\n")
    print(runs[columns].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    best = runs.iloc[0]
    print(f"\nbest: {best['run_name']} with accuracy {best['metrics.accuracy']:.3f}")

    # Package the winner, register it, point the "champion" alias at it, and serve it.
    kind = best["params.model"]
    params = {k: _param(best[f"params.{k}"]) for k in GRID[kind]}
    with mlt.start_run(run_id=best["run_id"]):
        model = _model(kind, params).fit(x_train, y_train)
        info = mlt.log_model(
            model, "model", input_example=x_test.head(3), registered_model_name=REGISTERED
        )
    version = info.registered_model_version.version
    mlt.model_registry().set_alias(REGISTERED, "champion", version)
    print(f"registered {REGISTERED} version {version} as @champion")
    with mlt.serve_model(f"models:/{REGISTERED}@champion") as server:
        payload = {"dataframe_split": x_test.head(5).to_dict(orient="split")}
        request = urllib.request.Request(
            f"{server.url}/invocations",
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            predictions = json.loads(response.read())["predictions"]
    print(f"served at {server.url}: predicted {predictions}, true {y_test.head(5).tolist()}")
    print("list the runs again with:  mltrack runs -e digits-demo -o 'metrics.accuracy DESC'")
    print(f"serve the model yourself:  mltrack serve models:/{REGISTERED}@champion --port 5001")


def _param(text: str) -> Any:
    """Params come back as strings; turn them back into the grid's values."""
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


if __name__ == "__main__":
    main()
