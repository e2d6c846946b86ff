"""The viewing subcommands: ``status``, ``runs``, ``compare``, ``cells``, ``artifacts`` and
``register``.

In a live kernel with ipywidgets and plotly, ``runs``, ``compare``, ``artifacts`` and ``register``
show the inline widgets (:mod:`jupyter_mltrack.widgets`); elsewhere (a terminal IPython, a test
shell) they print text.
"""

from __future__ import annotations

import argparse
import re

from IPython.core.error import UsageError

from ..entities import Run
from ..tracking import fluent
from . import tables
from .apicall import api, describe
from .capture import OUT_OF_ORDER_REASON_TAG, CellRecorder
from .outputs import OutputCapture

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


def show_status(recorder: CellRecorder, outputs: OutputCapture) -> None:
    """``%mltrack status``: store, experiment, active run, what it logged, cell order."""
    lines = [f"store       {fluent.get_store_dir()}"]
    exp = api("status", fluent.get_experiment, fluent.current_experiment_id())
    lines.append(f"experiment  {exp.name!r} (id {exp.experiment_id})")
    active = fluent.active_run()
    if active is None:
        lines.append("active run  none")
    else:
        run_id = active.info.run_id
        run = api("status", fluent.get_run, run_id)
        stack = fluent.run_stack()
        lines.append(
            f"active run  {describe(run)} {run.info.status} for "
            f"{tables.duration(run.info.start_time, None)}"
        )
        if len(stack) > 1:
            lines.append(f"nesting     {' > '.join(r.info.run_name for r in stack)}")
        cells = api("status", fluent.get_cells, run_id)
        artifacts = api("status", fluent.list_artifacts, run_id)
        user_tags = {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")}
        user_tags = {k: v for k, v in user_tags.items() if not k.startswith("mltrack.")}
        lines.append(
            f"logged      {len(run.data.params)} params, {len(run.data.metrics)} metrics, "
            f"{len(user_tags)} tags, {len(artifacts)} artifact entries, {len(cells)} cells"
        )
        if run.data.params:
            shown = ", ".join(f"{k}={v}" for k, v in sorted(run.data.params.items()))
            lines.append(f"params      {tables.clip(shown, 200)}")
        if run.data.metrics:
            shown = ", ".join(
                f"{k}={tables.number(v)}" for k, v in sorted(run.data.metrics.items())
            )
            lines.append(f"metrics     {tables.clip(shown, 200)}")
        if user_tags:
            shown = ", ".join(f"{k}={v}" for k, v in sorted(user_tags.items()))
            lines.append(f"tags        {tables.clip(shown, 200)}")
        reason = run.data.tags.get(OUT_OF_ORDER_REASON_TAG) or recorder.out_of_order(run_id)
        if reason:
            lines.append(f"order       OUT OF ORDER: {reason}")
        else:
            lines.append("order       cells ran top to bottom")
    lines.append(f"capture     outputs {'on' if outputs.enabled else 'off'}")
    print("\n".join(lines))


def widgets_shown() -> bool:
    """True in a live kernel that can show the inline widgets."""
    from IPython import get_ipython

    if getattr(get_ipython(), "kernel", None) is None:
        return False
    try:
        import ipywidgets  # noqa: F401
        import plotly  # noqa: F401
    except ImportError:
        return False
    return True


def show_runs(args: argparse.Namespace) -> None:
    """``%mltrack runs``: matching runs as a table, newest first."""
    if args.max < 1:
        raise UsageError(f"%mltrack runs: --max must be at least 1, got {args.max}")
    names = [args.experiment] if args.experiment else None
    if widgets_shown():
        from .. import widgets

        api(
            "runs",
            widgets.show_runs,
            args.text,
            experiment_names=names,
            all_experiments=args.all,
            page_size=min(args.max, 200),
        )
        return
    runs = api(
        "runs",
        fluent.search_runs,
        filter_string=args.text,
        max_results=args.max,
        output_format="list",
        experiment_names=names,
        search_all_experiments=args.all,
    )
    if not runs:
        print("no runs match")
        return
    print(tables.runs_table(runs))


def resolve_run(what: str, ref: str) -> Run:
    """A run named by id, unique id prefix (4+ characters) or unique name."""
    if _RUN_ID.match(ref):
        return api(what, fluent.get_run, ref)
    candidates = api(
        what,
        fluent.search_runs,
        output_format="list",
        max_results=5000,
        search_all_experiments=True,
    )
    by_prefix = [r for r in candidates if len(ref) >= 4 and r.info.run_id.startswith(ref)]
    matches = by_prefix or [r for r in candidates if r.info.run_name == ref]
    if not matches:
        raise UsageError(f"%mltrack {what}: no run with id, id prefix or name {ref!r}")
    if len(matches) > 1:
        ids = ", ".join(r.info.run_id[:8] for r in matches[:5])
        raise UsageError(f"%mltrack {what}: {ref!r} names several runs ({ids}); use an id")
    return matches[0]


def show_compare(args: argparse.Namespace) -> None:
    """``%mltrack compare``: runs side by side."""
    runs = [resolve_run("compare", ref) for ref in args.runs]
    if widgets_shown():
        from .. import widgets

        api("compare", widgets.show_compare, [r.info.run_id for r in runs])
        return
    print(tables.compare_table(runs))


def _run_or_active(what: str, ref: str | None) -> str:
    if ref is not None:
        return resolve_run(what, ref).info.run_id
    active = fluent.active_run()
    if active is None:
        raise UsageError(f"%mltrack {what}: no run is active; name one: %mltrack {what} RUN")
    return active.info.run_id


def show_artifacts(args: argparse.Namespace) -> None:
    """``%mltrack artifacts [RUN] [--path P]``: browse a run's artifacts."""
    run_id = _run_or_active("artifacts", args.run)
    if widgets_shown():
        from .. import widgets

        api("artifacts", widgets.show_artifacts, run_id, args.path or "")
        return
    entries = api("artifacts", fluent.list_artifacts, run_id, args.path)
    if not entries:
        print("no artifacts here")
        return
    for entry in entries:
        size = "" if entry.is_dir else f"  {entry.file_size} bytes"
        print(f"{entry.path}{'/' if entry.is_dir else ''}{size}")


def show_register(args: argparse.Namespace) -> None:
    """``%mltrack register [RUN] [--name N] [--alias A]``: register a run's logged model."""
    run_id = _run_or_active("register", args.run)
    if widgets_shown() and args.name is None:
        from .. import widgets

        api("register", widgets.show_register, run_id)
        return
    from ..models.fluent import model_registry

    run = api("register", fluent.get_run, run_id)
    model_ids = [o["model_id"] for o in run.outputs]
    if not model_ids:
        raise UsageError("%mltrack register: this run has logged no model (mlt.log_model)")
    if args.name is None:
        print("logged models of this run: " + ", ".join(model_ids))
        print("register one with: %mltrack register --name NAME [--alias ALIAS]")
        return
    if args.model is not None and args.model not in model_ids:
        raise UsageError(f"%mltrack register: {args.model!r} is not a logged model of this run")
    if args.model is None and len(model_ids) > 1:
        raise UsageError("%mltrack register: the run logged several models; pick one: --model ID")
    registry = model_registry()
    version = api(
        "register", registry.register_model, f"models:/{args.model or model_ids[0]}", args.name
    )
    text = f"registered {version.name} version {version.version}"
    if args.alias:
        api("register", registry.set_alias, version.name, args.alias, version.version)
        text += f" as @{args.alias}"
    print(text)


def show_cells(args: argparse.Namespace) -> None:
    """``%mltrack cells``: the cells a run executed."""
    if args.run is None:
        active = fluent.active_run()
        if active is None:
            raise UsageError("%mltrack cells: no run is active; name one: %mltrack cells RUN")
        run_id = active.info.run_id
    else:
        run_id = resolve_run("cells", args.run).info.run_id
    cells = api("cells", fluent.get_cells, run_id)
    print(tables.cells_table(cells) if cells else "no cells recorded for this run")
