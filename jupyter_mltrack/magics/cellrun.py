"""``%%mltrack run``: one cell as its own run, ended with the cell's outcome."""

from __future__ import annotations

import argparse
import ast
from typing import Any

from ..entities import RunStatus
from ..tracking import fluent
from .apicall import api, experiment_id_for
from .parsing import key_values

ERROR_TYPE_TAG = "mltrack.error.type"
ERROR_MESSAGE_TAG = "mltrack.error.message"


def run_cell_as_run(shell: Any, args: argparse.Namespace, cell: str) -> Any:
    """``%%mltrack run``: run ``cell`` as its own run; return the cell's value.

    The run ends FINISHED when the cell completes, FAILED (with the error's type and message as
    tags) when it raises, KILLED when it is interrupted; the exception then propagates, so the
    cell fails (and "Run All" stops) as it would without the magic.
    """
    __tracebackhide__ = True
    tags = key_values(args.tag, "run --tag")
    experiment_id = api("run", experiment_id_for, args.experiment) if args.experiment else None
    run = api(
        "run",
        fluent.start_run,
        experiment_id=experiment_id,
        run_name=args.name,
        nested=args.nested,
        tags=tags or None,
    )
    run_id = run.info.run_id
    try:
        value = execute_cell(shell, cell)
    except BaseException as exc:
        status = RunStatus.KILLED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED
        end_through(run_id, status, exc)
        raise
    end_through(run_id, RunStatus.FINISHED, None)
    return None if cell.rstrip().endswith(";") else value


def end_through(run_id: str, status: str, exc: BaseException | None) -> None:
    """End ``run_id`` with ``status``, ending first any run the cell left active above it."""
    if not any(r.info.run_id == run_id for r in fluent.run_stack()):
        return  # the cell ended it itself
    while stack := fluent.run_stack():
        top = stack[-1].info.run_id
        if exc is not None:
            message = str(exc)[:4000] or type(exc).__name__
            fluent.client().set_tag(top, ERROR_TYPE_TAG, type(exc).__name__)
            fluent.client().set_tag(top, ERROR_MESSAGE_TAG, message)
            if isinstance(exc, KeyboardInterrupt):
                fluent.client().set_tag(top, fluent.END_REASON_TAG, "interrupted")
        fluent.end_run(status)
        if top == run_id:
            return


def execute_cell(shell: Any, cell: str) -> Any:
    """Run a cell's body in the user namespace; return its last expression's value.

    IPython syntax in the body (``%magic``, ``!cmd``) works; top-level ``await`` does not.
    Exceptions propagate, so the cell fails (and "Run All" stops) as it would without the magic.
    """
    __tracebackhide__ = True
    code = shell.transform_cell(cell)
    filename = shell.compile.cache(code, shell.execution_count, raw_code=cell)
    tree = ast.parse(code, filename)
    last: ast.Expression | None = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    exec(compile(tree, filename, "exec"), shell.user_global_ns, shell.user_ns)
    if last is None:
        return None
    return eval(compile(last, filename, "eval"), shell.user_global_ns, shell.user_ns)
