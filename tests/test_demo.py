"""The README's demo command runs end to end on a fresh store, on what `make demo` installs."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import jupyter_mltrack as mlt

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = [ROOT / "examples" / "demo.py", *sorted((ROOT / "examples").glob("*.ipynb"))]
DEV_ONLY = {"mlflow", "torch", "mypy", "ruff", "playwright", "pytest"}


def test_demo_script_logs_and_compares_runs(tmp_path: Path) -> None:
    store = tmp_path / "store"
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py"), "--store", str(store)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert f"jupyter-mltrack store: {store}" in done.stdout
    assert "9 runs under grid-" in done.stdout
    assert "best:" in done.stdout
    assert "registered digits-classifier version 1 as @champion" in done.stdout
    assert "served at http://127.0.0.1:" in done.stdout
    client = mlt.MltrackClient(store)
    exp = client.get_experiment_by_name("digits-demo")
    assert exp is not None
    runs = client.search_runs([exp.experiment_id], "params.model = 'knn'")
    assert len(runs) == 2
    assert all(0.5 < r.data.metrics["accuracy"] <= 1.0 for r in runs)
    history = client.get_metric_history(runs[0].info.run_id, "cv_accuracy")
    assert len(history) == 3
    client._session.store.close()  # type: ignore[attr-defined]


def _imported_modules(path: Path) -> set[str]:
    """Top-level modules a script or a notebook's code cells import (magics left out)."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        lines = [
            line
            for cell in cells
            if cell["cell_type"] == "code"
            for line in "".join(cell["source"]).splitlines()
            if not line.lstrip().startswith(("%", "!"))
        ]
        code = "\n".join(lines)
    else:
        code = path.read_text()
    modules = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
    return modules


def _demo_requirements() -> list[Requirement]:
    """What `make demo` installs, read from this tree: the package's dependencies, its demo
    extras, and JupyterLab."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    demo = [Requirement(r) for r in project["optional-dependencies"]["demo"]]
    assert all(canonicalize_name(r.name) != "jupyter-mltrack" for r in demo)
    return [*map(Requirement, project["dependencies"]), *demo, Requirement("jupyterlab")]


def _closure(requirements: list[Requirement]) -> set[str]:
    """The distributions these requirements install: theirs, and their dependencies' (as the
    installed packages declare them)."""
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = list(requirements)
    while todo:
        requirement = todo.pop()
        key = (canonicalize_name(requirement.name), frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        extras = requirement.extras or {""}
        for text in metadata.requires(requirement.name) or []:
            dependency = Requirement(text)
            marker = dependency.marker
            if marker is None or any(marker.evaluate({"extra": extra}) for extra in extras):
                todo.append(dependency)
    return {name for name, _ in seen}


def test_the_examples_import_only_what_make_demo_installs() -> None:
    installed = _closure(_demo_requirements()) | {"jupyter-mltrack"}
    assert not installed & DEV_ONLY, "the demo's set-up would install development tools"
    providers = metadata.packages_distributions()
    missing = {}
    for path in EXAMPLES:
        for module in sorted(_imported_modules(path) - set(sys.stdlib_module_names)):
            dists = {canonicalize_name(d) for d in providers.get(module, [module])}
            if not dists & installed:
                missing[f"{path.name}: {module}"] = sorted(dists)
    assert not missing, f"examples import what `make demo` does not install: {missing}"


def _make_plan(*args: str) -> list[str]:
    """The commands `make` would run from scratch, one a line."""
    done = subprocess.run(
        ["make", "-n", "-B", *args], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout.replace("\\\n", " ").splitlines()


def test_make_demo_installs_the_demo_extras_and_prints_before_building_the_lab() -> None:
    plan = _make_plan("demo")
    [install] = [line for line in plan if "pip install" in line]
    assert "-e '.[demo]' 'jupyterlab" in install and "[dev]" not in install, install
    script = next(i for i, line in enumerate(plan) if "examples/demo.py" in line)
    node = next(i for i, line in enumerate(plan) if "jlpm install" in line)
    lab = next(i for i, line in enumerate(plan) if "jupyter lab examples/demo.ipynb" in line)
    assert script < node < lab, "the comparison is printed before Node.js builds the extension"

    plan = " ".join(_make_plan("demo", "NO_LAB=1"))
    assert "examples/demo.py" in plan and "jlpm" not in plan and "jupyter lab" not in plan
