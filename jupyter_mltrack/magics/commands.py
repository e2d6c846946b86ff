"""The ``%mltrack`` subcommands: one parser and one handler each, every handler a thin call into
the public Python API (:mod:`jupyter_mltrack.tracking.fluent`), so anything a magic does can be
done in code.

Values in a line may use IPython's expansion (``%mltrack metric acc={acc:.4f}``, ``$lr``).
Errors from the API become one-line :class:`UsageError` messages, never tracebacks.
"""

from __future__ import annotations

import argparse
import glob
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from IPython.core.error import UsageError

from ..entities import RunStatus
from ..tracking import fluent
from .apicall import api, describe, experiment_id_for
from .capture import CellRecorder
from .cellrun import run_cell_as_run
from .outputs import OutputCapture
from .parsing import (
    HelpShown,
    SubcommandParser,
    key_values,
    split_line,
    suggest,
    take_leading_options,
)
from .views import (
    show_artifacts,
    show_cells,
    show_compare,
    show_register,
    show_runs,
    show_status,
)


@dataclass
class Subcommand:
    """One subcommand: its parser, its handler, and how its line is split."""

    name: str
    summary: str
    parser: SubcommandParser
    handler: Callable[[argparse.Namespace], Any]
    raw_rest: set[str] | None = None  # options that take a value; the rest is kept verbatim
    cell_only: bool = False


def _parser(name: str, summary: str, epilog: str | None = None) -> SubcommandParser:
    prog = f"%%mltrack {name}" if name == "run" else f"%mltrack {name}"
    return SubcommandParser(prog=prog, description=summary, epilog=epilog)


class Commands:
    """The subcommands of one shell's ``%mltrack`` magic.

    Parameters
    ----------
    shell:
        The InteractiveShell (for the user namespace and to run ``%%mltrack run`` cells).
    recorder, outputs:
        The shell's cell recorder and output capture (for ``status`` and ``capture``).
    """

    def __init__(self, shell: Any, recorder: CellRecorder, outputs: OutputCapture):
        self.shell = shell
        self.recorder = recorder
        self.outputs = outputs
        self.subcommands: dict[str, Subcommand] = {}
        self._build()

    # dispatch ------------------------------------------------------------------------------
    def line(self, line: str) -> Any:
        """Run ``%mltrack <line>``."""
        __tracebackhide__ = True
        name, rest = self._split(line)
        if name is None:
            print(self.overview())
            return None
        sub = self.subcommands[name]
        if sub.cell_only:
            raise UsageError(
                f"%mltrack {name} runs a whole cell: put '%%mltrack {name} …' on the cell's "
                "first line"
            )
        return self._invoke(sub, rest)

    def cell(self, line: str, cell: str) -> Any:
        """Run ``%%mltrack <line>`` over ``cell``."""
        __tracebackhide__ = True
        name, rest = self._split(line)
        if name != "run":
            raise UsageError(
                "%%mltrack takes one subcommand, run: '%%mltrack run [NAME] [--nested]'"
                + (f" (got {name!r}; use %mltrack {name} as a line magic)" if name else "")
            )
        try:
            args = self.subcommands["run"].parser.parse(split_line(rest))
        except HelpShown:
            return None
        return run_cell_as_run(self.shell, args, cell)

    def _split(self, line: str) -> tuple[str | None, str]:
        text = line.strip()
        if not text or text in ("-h", "--help"):
            return None, ""
        name, _, rest = text.partition(" ")
        if name not in self.subcommands:
            raise UsageError(
                f"%mltrack: unknown subcommand {name!r}{suggest(name, list(self.subcommands))}; "
                "'%mltrack help' lists them"
            )
        return name, rest

    def _invoke(self, sub: Subcommand, rest: str) -> Any:
        try:
            if sub.raw_rest is not None:
                argv, free = take_leading_options(rest, sub.raw_rest)
                args = sub.parser.parse(argv)
                args.text = free
            else:
                args = sub.parser.parse(split_line(rest))
        except HelpShown:
            return None
        return sub.handler(args)

    def overview(self) -> str:
        """The list of subcommands (``%mltrack`` or ``%mltrack help``)."""
        width = max(len(n) for n in self.subcommands)
        lines = ["%mltrack SUBCOMMAND [ARGS] — track runs from the notebook.", ""]
        for name, sub in self.subcommands.items():
            shown = f"%%mltrack {name}" if sub.cell_only else f"%mltrack {name}"
            lines.append(f"  {shown.ljust(width + 10)}{sub.summary}")
        lines += ["", "Each subcommand takes --help."]
        return "\n".join(lines)

    # registry ------------------------------------------------------------------------------
    def _add(
        self,
        parser: SubcommandParser,
        handler: Callable[[argparse.Namespace], Any],
        raw_rest: set[str] | None = None,
        cell_only: bool = False,
    ) -> None:
        name = parser.prog.split()[-1]
        self.subcommands[name] = Subcommand(
            name, parser.description or "", parser, handler, raw_rest, cell_only
        )

    def _build(self) -> None:
        p = _parser("start_run", "Start a run and make it the active run.")
        p.add_argument("--name", "-n", help="the run's name (default: a generated one)")
        p.add_argument("--experiment", "-e", help="experiment name (created if missing)")
        p.add_argument("--nested", action="store_true", help="start a child of the active run")
        p.add_argument("--tag", "-t", action="extend", nargs="+", default=[], metavar="K=V")
        p.add_argument("--description", "-d", help="the run's description")
        p.add_argument("--resume", metavar="RUN_ID", help="continue an existing run instead")
        self._add(p, self._start_run)

        p = _parser("end_run", "End the active run.")
        p.add_argument("--status", "-s", default=RunStatus.FINISHED, choices=RunStatus.TERMINAL)
        self._add(p, self._end_run)

        p = _parser("status", "Show the store, experiment, active run and what it logged so far.")
        self._add(p, lambda args: show_status(self.recorder, self.outputs))

        p = _parser("experiment", "Set the current experiment (created if missing), or show it.")
        p.add_argument("name", nargs="?", help="experiment name")
        self._add(p, self._experiment)

        p = _parser(
            "params",
            "Log notebook variables as params, under their names.",
            "example: %mltrack params lr batch_size model.depth",
        )
        p.add_argument("names", nargs="+", metavar="NAME", help="variable (or a.b attribute)")
        self._add(p, self._params)

        p = _parser("param", "Log params given as key=value.", "example: %mltrack param lr=0.1")
        p.add_argument("pairs", nargs="+", metavar="K=V")
        self._add(p, self._param)

        p = _parser(
            "metric",
            "Log metrics given as key=value.",
            "example: %mltrack metric acc={acc} loss=0.25 --step 3",
        )
        p.add_argument("pairs", nargs="+", metavar="K=V")
        p.add_argument("--step", type=int, default=None, help="the step (default 0)")
        self._add(p, self._metric)

        p = _parser("tag", "Set tags given as key=value.")
        p.add_argument("pairs", nargs="+", metavar="K=V")
        self._add(p, self._tag)

        p = _parser("artifact", "Log files or folders (glob patterns allowed) as artifacts.")
        p.add_argument("paths", nargs="+", metavar="PATH")
        p.add_argument("--dir", default=None, help="folder inside the run's artifacts")
        self._add(p, self._artifact)

        p = _parser(
            "runs",
            "List runs, newest first; optionally filtered.",
            "example: %mltrack runs metrics.acc > 0.9 and params.model = 'svm'",
        )
        p.add_argument("--experiment", "-e", help="experiment name (default: the current one)")
        p.add_argument("--all", action="store_true", help="runs of every experiment")
        p.add_argument("--max", type=int, default=20, help="at most this many (default 20)")
        self._add(p, show_runs, raw_rest={"--experiment", "-e", "--max"})

        p = _parser("compare", "Compare runs side by side (ids, id prefixes or names).")
        p.add_argument("runs", nargs="+", metavar="RUN")
        self._add(p, show_compare)

        p = _parser("artifacts", "Browse a run's artifacts (default: the active run).")
        p.add_argument("run", nargs="?", metavar="RUN")
        p.add_argument("--path", default=None, help="a folder inside the run's artifacts")
        self._add(p, show_artifacts)

        p = _parser(
            "register",
            "Register a model the run logged (default: the active run); without --name, in a "
            "notebook, shows a form.",
        )
        p.add_argument("run", nargs="?", metavar="RUN")
        p.add_argument("--name", "-n", help="registered model name (created if new)")
        p.add_argument("--alias", "-a", help="point this alias at the new version")
        p.add_argument("--model", "-m", help="the logged model id, when the run logged several")
        self._add(p, show_register)

        p = _parser("cells", "List the notebook cells a run executed (default: the active run).")
        p.add_argument("run", nargs="?", metavar="RUN")
        self._add(p, show_cells)

        p = _parser("capture", "Store displayed images and figures as artifacts of the run.")
        p.add_argument("what", choices=["outputs"])
        p.add_argument("state", nargs="?", choices=["on", "off"], help="omit to show the state")
        self._add(p, self._capture)

        p = _parser(
            "run",
            "Run this cell as its own run: FINISHED when it completes, FAILED with the error "
            "when it raises, KILLED when interrupted.",
        )
        p.add_argument("name", nargs="?", help="the run's name")
        p.add_argument("--nested", action="store_true", help="as a child of the active run")
        p.add_argument("--experiment", "-e", help="experiment name (created if missing)")
        p.add_argument("--tag", "-t", action="extend", nargs="+", default=[], metavar="K=V")
        self._add(p, lambda args: None, cell_only=True)

        p = _parser("help", "Show the subcommands, or one subcommand's help.")
        p.add_argument("subcommand", nargs="?")
        self._add(p, self._help)

    # handlers: runs ------------------------------------------------------------------------
    def _start_run(self, args: argparse.Namespace) -> None:
        tags = key_values(args.tag, "start_run --tag")
        experiment_id = (
            api("start_run", experiment_id_for, args.experiment) if args.experiment else None
        )
        run = api(
            "start_run",
            fluent.start_run,
            run_id=args.resume,
            experiment_id=experiment_id,
            run_name=args.name,
            nested=args.nested,
            tags=tags or None,
            description=args.description,
        )
        experiment = api("start_run", fluent.get_experiment, run.info.experiment_id)
        verb = "resumed" if args.resume else "started"
        print(f"{verb} run {describe(run)} in experiment {experiment.name!r}")

    def _end_run(self, args: argparse.Namespace) -> None:
        run = fluent.active_run()
        if run is None:
            raise UsageError("%mltrack end_run: no run is active")
        api("end_run", fluent.end_run, args.status)
        print(f"ended run {describe(run)}: {args.status}")

    def _experiment(self, args: argparse.Namespace) -> None:
        if args.name is None:
            exp = api("experiment", fluent.get_experiment, fluent.current_experiment_id())
            print(f"current experiment: {exp.name!r} (id {exp.experiment_id})")
            return
        exp = api("experiment", fluent.set_experiment, args.name)
        print(f"current experiment: {exp.name!r} (id {exp.experiment_id})")

    # handlers: logging ---------------------------------------------------------------------
    def _params(self, args: argparse.Namespace) -> None:
        values = {name: self._lookup(name) for name in args.names}
        api("params", fluent.log_params, values)

    def _lookup(self, name: str) -> Any:
        head, *attrs = name.split(".")
        namespace = self.shell.user_ns
        if not head.isidentifier() or not all(a.isidentifier() for a in attrs):
            raise UsageError(f"%mltrack params: {name!r} is not a variable name")
        if head not in namespace:
            known = [k for k in namespace if not k.startswith("_")]
            raise UsageError(
                f"%mltrack params: no variable named {head!r} in the notebook{suggest(head, known)}"
            )
        value = namespace[head]
        for attr in attrs:
            try:
                value = getattr(value, attr)
            except AttributeError:
                raise UsageError(f"%mltrack params: {name!r}: no attribute {attr!r}") from None
        return value

    def _param(self, args: argparse.Namespace) -> None:
        api("param", fluent.log_params, key_values(args.pairs, "param"))

    def _metric(self, args: argparse.Namespace) -> None:
        values: dict[str, float] = {}
        for key, text in key_values(args.pairs, "metric").items():
            try:
                values[key] = float(text)
            except ValueError:
                raise UsageError(
                    f"%mltrack metric: {key!r} must be a number, got {text!r}"
                ) from None
        api("metric", fluent.log_metrics, values, step=args.step)

    def _tag(self, args: argparse.Namespace) -> None:
        api("tag", fluent.set_tags, key_values(args.pairs, "tag"))

    def _artifact(self, args: argparse.Namespace) -> None:
        files: list[str] = []
        for pattern in args.paths:
            matches = sorted(glob.glob(os.path.expanduser(pattern)))
            if not matches:
                raise UsageError(f"%mltrack artifact: no file or folder matches {pattern!r}")
            files.extend(matches)
        for path in files:
            if os.path.isdir(path):
                inside = os.path.basename(os.path.normpath(path))
                target = f"{args.dir.rstrip('/')}/{inside}" if args.dir else inside
                api("artifact", fluent.log_artifacts, path, target)
            else:
                api("artifact", fluent.log_artifact, path, args.dir)
        print(f"logged {len(files)} artifact{'s' if len(files) != 1 else ''}")

    # handlers: views -----------------------------------------------------------------------
    def _capture(self, args: argparse.Namespace) -> None:
        if args.state == "on":
            self.outputs.enable()
        elif args.state == "off":
            self.outputs.disable()
        print(f"capture outputs: {'on' if self.outputs.enabled else 'off'}")

    def _help(self, args: argparse.Namespace) -> None:
        if args.subcommand is None:
            print(self.overview())
            return
        sub = self.subcommands.get(args.subcommand)
        if sub is None:
            raise UsageError(
                f"%mltrack help: unknown subcommand {args.subcommand!r}"
                f"{suggest(args.subcommand, list(self.subcommands))}"
            )
        sub.parser.print_help()
