"""``mltrack`` / ``jupyter mltrack``: store housekeeping from the shell.

Every command prints the store it works on first, so a user always knows where data is.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .errors import MltrackError

if TYPE_CHECKING:
    from .tracking.client import MltrackClient


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mltrack",
        description="jupyter-mltrack: experiment tracking inside Jupyter.",
    )
    parser.add_argument(
        "--store",
        help="store directory (default: $MLTRACK_STORE, else ~/.mltrack)",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    sub.add_parser("info", help="store location, schema version and counts")

    exps = sub.add_parser("experiments", help="list experiments")
    exps.add_argument("--filter", default=None, help="e.g. \"name LIKE 'demo%%'\"")
    exps.add_argument("--all", action="store_true", help="include deleted experiments")

    runs = sub.add_parser("runs", help="list runs")
    runs.add_argument("--experiment", "-e", action="append", help="experiment name or id")
    runs.add_argument("--filter", "-f", default="", help='e.g. "metrics.acc > 0.9"')
    runs.add_argument("--order-by", "-o", action="append", help='e.g. "metrics.acc DESC"')
    runs.add_argument("--max", type=int, default=50, help="at most this many runs (default 50)")
    runs.add_argument("--deleted", action="store_true", help="list deleted runs instead")

    server = sub.add_parser(
        "server",
        help="run the tracking server on its own (no JupyterLab)",
        description="Any Jupyter server option works too, e.g. --IdentityProvider.token=T.",
    )
    server.add_argument("--port", type=int, help="port to listen on (default 8888)")
    server.add_argument("--ip", help="address to listen on (default localhost)")

    gc = sub.add_parser("gc", help="permanently remove deleted runs and their artifacts")
    gc.add_argument(
        "--older-than",
        type=float,
        default=0,
        metavar="DAYS",
        help="only runs deleted at least this many days ago",
    )
    from .models import cli as models_cli

    models_cli.add_subcommands(sub)
    return parser


def _experiment_ids(client: MltrackClient, names_or_ids: list[str] | None) -> list[str]:
    if not names_or_ids:
        return [e.experiment_id for e in client.all_experiments()]
    ids = []
    for item in names_or_ids:
        exp = client.get_experiment_by_name(item)
        if exp is None and item.isdigit():
            exp = client.get_experiment(item)
        if exp is None:
            raise MltrackError(f"no experiment named {item!r}")
        ids.append(exp.experiment_id)
    return ids


def format_table(rows: list[list[Any]], header: list[str]) -> str:
    """Rows as a plain-text table with a header; None prints as an empty cell."""
    cells = [[("" if c is None else str(c)) for c in row] for row in rows]
    widths = [max(len(c) for c in col) for col in zip(header, *cells)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def run_command(args: argparse.Namespace) -> Any:
    """Carry out one parsed command; return what it prints (a dict or a table string)."""
    from .models import cli as models_cli
    from .tracking.client import MltrackClient

    if args.command in models_cli.COMMANDS:
        return models_cli.run(args)

    client = MltrackClient(args.store)
    store = client.store
    if args.command == "info":
        return store.info()
    if args.command == "experiments":
        view = "ALL" if args.all else "ACTIVE_ONLY"
        found = client.all_experiments(view, args.filter)
        return {
            "experiments": [e.to_dict() for e in found],
            "table": format_table(
                [[e.experiment_id, e.name, e.lifecycle_stage] for e in found],
                ["id", "name", "stage"],
            ),
        }
    if args.command == "runs":
        if args.max < 1:
            raise MltrackError("--max must be a positive integer")
        view = "DELETED_ONLY" if args.deleted else "ACTIVE_ONLY"
        found = client.search_runs(
            _experiment_ids(client, args.experiment), args.filter, view, args.max, args.order_by
        )
        rows = [
            [
                r.info.run_id,
                r.info.run_name,
                r.info.status,
                " ".join(f"{k}={v:.4g}" for k, v in sorted(r.data.metrics.items())[:4]),
            ]
            for r in found
        ]
        return {
            "runs": [r.to_dict() for r in found],
            "table": format_table(rows, ["run_id", "name", "status", "metrics"]),
        }
    if args.command == "gc":
        if args.older_than < 0:
            raise MltrackError("--older-than must not be negative")
        client.flush()
        return store.gc(int(args.older_than * 86_400_000))
    raise MltrackError(f"unknown command {args.command!r}")  # argparse prevents this


def _serve(args: argparse.Namespace) -> int:
    from .config import resolve_store_dir
    from .server.app import launch

    argv = [f"--store={resolve_store_dir(args.store)}"]
    if args.port is not None:
        if not 0 < args.port < 65536:
            raise MltrackError(f"--port must be 1-65535, got {args.port}")
        argv.append(f"--port={args.port}")
    if args.ip:
        argv.append(f"--ip={args.ip}")
    launch([*argv, *args.server_args])
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``mltrack`` and ``jupyter mltrack``; returns the exit status."""
    parser = _parser()
    # the server passes options it does not know on to Jupyter's server (--IdentityProvider.…)
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "server":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.server_args = extra
    from .config import resolve_store_dir

    if args.command == "server":
        try:
            return _serve(args)
        except MltrackError as exc:
            print(f"mltrack: error: {exc.message}", file=sys.stderr)
            return 2

    try:
        result = run_command(args)
    except MltrackError as exc:
        print(f"mltrack: error: {exc.message}", file=sys.stderr)
        return 2
    if args.json:
        result.pop("table", None) if isinstance(result, dict) else None
        print(json.dumps(result, indent=2, default=str))
        return 0
    print(f"store: {resolve_store_dir(args.store)}")
    if isinstance(result, dict) and "table" in result:
        print(result["table"])
    elif args.command == "gc":
        print(
            f"removed {len(result['runs_removed'])} deleted runs ({result['rows_removed']} rows), "
            f"freed {result['bytes_freed']} bytes of artifacts"
        )
    else:
        print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
