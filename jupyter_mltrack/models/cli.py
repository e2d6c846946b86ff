"""``jupyter mltrack models|serve|predict|build-docker``: the model commands of the CLI.

:func:`add_subcommands` adds the commands to the main parser and :func:`run` carries one out,
returning what to print (a dict; its ``table`` entry is the human-readable form). The registry
commands go through :class:`ModelRegistry`, the same code as the Python API.
``python -m jupyter_mltrack.models.cli`` runs these commands on their own.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..cli import format_table
from ..entities import Approval, ModelStage
from ..errors import MltrackError

if TYPE_CHECKING:
    from ..store.contract import AbstractStore

COMMANDS = ("models", "serve", "predict", "build-docker")


def add_subcommands(sub: Any) -> None:
    """Add ``models``, ``serve``, ``predict`` and ``build-docker`` to a subparsers object."""
    models = sub.add_parser("models", help="the model registry: list, register, alias, stage, …")
    models.add_argument("--user", help="who is acting (default: $MLTRACK_USER, else your login)")
    actions = models.add_subparsers(dest="models_command", metavar="ACTION")
    actions.required = True

    p = actions.add_parser("list", help="registered models")
    p.add_argument("--filter", default=None, help="e.g. \"name LIKE 'fraud%%'\"")

    p = actions.add_parser("show", help="a model and its versions, or one version")
    p.add_argument("name")
    p.add_argument("--version", "-v", help="a version number, @alias, stage or 'latest'")

    p = actions.add_parser("register", help="register a model URI as a new version")
    p.add_argument("model_uri", help="runs:/<run>/<name>, models:/m-<id>, or a model folder")
    p.add_argument("name", help="registered model name (created if new)")
    p.add_argument("--description", "-d")
    p.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")

    p = actions.add_parser("alias", help="set, move or delete an alias")
    p.add_argument("name")
    p.add_argument("alias")
    p.add_argument("version", nargs="?", help="the version to point the alias at")
    p.add_argument("--delete", action="store_true", help="delete the alias")

    p = actions.add_parser("stage", help="move a version to a stage")
    p.add_argument("name")
    p.add_argument("version")
    p.add_argument("stage", help=", ".join(ModelStage.ALL))
    p.add_argument(
        "--archive-existing",
        action="store_true",
        help="archive the versions now in that stage (Staging/Production)",
    )

    p = actions.add_parser("review", help="comment on a version and/or approve or reject it")
    p.add_argument("name")
    p.add_argument("version")
    p.add_argument("--comment", "-m")
    decision = p.add_mutually_exclusive_group()
    for flag, value in (
        ("--approve", Approval.APPROVED),
        ("--reject", Approval.REJECTED),
        ("--pending", Approval.PENDING),
    ):
        decision.add_argument(flag, dest="approval", action="store_const", const=value)

    p = actions.add_parser("history", help="every recorded change, oldest first")
    p.add_argument("name")
    p.add_argument("--version", "-v")
    p.add_argument("--aliases", action="store_true", help="which version held each alias, when")

    p = actions.add_parser("describe", help="set the description of a model or a version")
    p.add_argument("name")
    p.add_argument("description")
    p.add_argument("--version", "-v")

    p = actions.add_parser("rename", help="rename a registered model")
    p.add_argument("name")
    p.add_argument("new_name")

    p = actions.add_parser("tag", help="set (or --delete) a tag of a model or a version")
    p.add_argument("name")
    p.add_argument("tag", metavar="KEY=VALUE", help="KEY=VALUE, or KEY with --delete")
    p.add_argument("--version", "-v")
    p.add_argument("--delete", action="store_true")

    p = actions.add_parser("delete", help="delete a version, or a whole model")
    p.add_argument("name")
    p.add_argument("--version", "-v", help="delete only this version")
    p.add_argument("--yes", action="store_true", help="confirm (required)")

    p = actions.add_parser("lineage", help="version -> logged model -> run -> cell -> datasets")
    p.add_argument("name")
    p.add_argument("version")

    serve = sub.add_parser("serve", help="serve a model over HTTP (MLflow's scoring protocol)")
    serve.add_argument("model_uri", help="models:/<name>@<alias>, models:/<name>/<version>, …")
    serve.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    serve.add_argument("--port", "-p", type=int, default=5000, help="port (0: any free port)")
    serve.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name clients may use besides addresses and localhost (repeat; '*': any)",
    )

    predict = sub.add_parser("predict", help="batch scoring: a CSV/Parquet file in, one out")
    predict.add_argument("--model-uri", "-m", required=True)
    predict.add_argument("--input", "-i", required=True, help="input .csv or .parquet")
    predict.add_argument("--output", "-o", required=True, help="output .csv or .parquet")
    predict.add_argument("--with-input", action="store_true", help="keep the input columns")

    docker = sub.add_parser("build-docker", help="write a Docker build context serving a model")
    docker.add_argument("model_uri")
    docker.add_argument("--output", "-o", default="mltrack-docker", help="context directory")
    docker.add_argument("--port", type=int, default=8080, help="port in the container")
    docker.add_argument("--base-image", default=None, help="default: python:<ver>-slim")
    docker.add_argument(
        "--allow-unsafe-requirements",
        action="store_true",
        help="let the model's requirements.txt hold pip options, URL, VCS or local-path lines",
    )


# output --------------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """Entities (dataclasses) as JSON-ready dicts."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _when(ms: int | None) -> str:
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def _versions_table(versions: list[Any]) -> str:
    return format_table(
        [
            [v.version, v.current_stage, ",".join(v.aliases), v.approval, v.run_id, v.source]
            for v in versions
        ],
        ["version", "stage", "aliases", "approval", "run_id", "source"],
    )


def _tag(text: str, need_value: bool = True) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not key or (need_value and not sep):
        raise MltrackError(f"a tag must be written KEY=VALUE, got {text!r}")
    return key, value


# commands ------------------------------------------------------------------------------------
def _store(args: argparse.Namespace) -> AbstractStore:
    from ..tracking.client import MltrackClient

    return MltrackClient(getattr(args, "store", None)).store


def run(args: argparse.Namespace) -> Any:
    """Carry out one parsed model command; return what to print."""
    if args.command == "models":
        return _models(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "predict":
        return _predict(args)
    if args.command == "build-docker":
        return _build_docker(args)
    raise MltrackError(f"unknown command {args.command!r}")  # argparse prevents this


def _models(args: argparse.Namespace) -> dict[str, Any]:
    from .registry_api import ModelRegistry

    reg = ModelRegistry(_store(args), user=args.user)
    action = args.models_command
    if action == "list":
        found = reg.search_registered_models(args.filter)
        rows = [
            [m.name, len(m.latest_versions), ",".join(f"{a}={v}" for a, v in m.aliases.items()),
             _when(m.last_updated_timestamp), m.description or ""]
            for m in found
        ]  # fmt: skip
        table = format_table(rows, ["name", "stages", "aliases", "updated", "description"])
        return {"models": _plain(found), "table": table}
    if action == "show":
        if args.version is not None:
            mv = reg.get_version(args.name, args.version)
            lines = [f"{k}: {v}" for k, v in _plain(mv).items()]
            return {"version": _plain(mv), "table": "\n".join(lines)}
        model = reg.get_registered_model(args.name)
        versions = reg.list_versions(args.name)
        head = [f"name: {model.name}", f"description: {model.description or ''}"]
        head.append("tags: " + ", ".join(f"{k}={v}" for k, v in model.tags.items()))
        table = "\n".join(head) + "\n\n" + _versions_table(versions)
        return {"model": _plain(model), "versions": _plain(versions), "table": table}
    if action == "register":
        tags = dict(_tag(t) for t in args.tag)
        mv = reg.register_model(args.model_uri, args.name, args.description, tags or None)
        return {"version": _plain(mv), "table": f"registered {mv.name} version {mv.version}"}
    if action == "alias":
        if args.delete:
            if args.version is not None:
                raise MltrackError("--delete takes no version")
            reg.delete_alias(args.name, args.alias)
            return {"deleted": args.alias, "table": f"deleted alias {args.alias} of {args.name}"}
        if args.version is None:
            raise MltrackError("give the version to point the alias at, or --delete")
        reg.set_alias(args.name, args.alias, args.version)
        text = f"{args.name}@{args.alias} -> version {args.version}"
        return {"alias": args.alias, "version": args.version, "table": text}
    if action == "stage":
        mv = reg.transition_stage(args.name, args.version, args.stage, args.archive_existing)
        text = f"{mv.name} version {mv.version} is now in {mv.current_stage}"
        return {"version": _plain(mv), "table": text}
    if action == "review":
        if args.comment is None and args.approval is None:
            raise MltrackError("a review needs --comment, --approve, --reject or --pending")
        mv = reg.review(args.name, args.version, args.comment, args.approval)
        text = f"{mv.name} version {mv.version}: approval {mv.approval}"
        return {"version": _plain(mv), "table": text}
    if action == "history":
        if args.aliases:
            spans = reg.alias_history(args.name)
            rows = [[s.alias, s.version, _when(s.since), _when(s.until), s.set_by] for s in spans]
            table = format_table(rows, ["alias", "version", "since", "until", "set_by"])
            return {"aliases": _plain(spans), "table": table}
        events = reg.history(args.name, args.version)
        rows = [
            [_when(e.time), e.user_id, e.version or "", e.kind,
             json.dumps(e.detail, sort_keys=True, default=str)]
            for e in events
        ]  # fmt: skip
        table = format_table(rows, ["time", "user", "version", "kind", "detail"])
        return {"events": _plain(events), "table": table}
    if action == "describe":
        if args.version is not None:
            reg.update_model_version(args.name, args.version, args.description)
        else:
            reg.update_registered_model(args.name, args.description)
        return {"description": args.description, "table": "description updated"}
    if action == "rename":
        model = reg.rename_registered_model(args.name, args.new_name)
        return {"model": _plain(model), "table": f"renamed {args.name} to {model.name}"}
    if action == "tag":
        key, value = _tag(args.tag, need_value=not args.delete)
        if args.delete:
            if args.version is not None:
                reg.delete_model_version_tag(args.name, args.version, key)
            else:
                reg.delete_registered_model_tag(args.name, key)
            return {"deleted": key, "table": f"deleted tag {key}"}
        if args.version is not None:
            reg.set_model_version_tag(args.name, args.version, key, value)
        else:
            reg.set_registered_model_tag(args.name, key, value)
        return {"tag": {key: value}, "table": f"set tag {key}={value}"}
    if action == "delete":
        if not args.yes:
            what = f"version {args.version} of {args.name}" if args.version else args.name
            raise MltrackError(f"deleting {what} cannot be undone; add --yes to confirm")
        if args.version is not None:
            reg.delete_model_version(args.name, args.version)
            return {"deleted": args.version, "table": f"deleted {args.name} version {args.version}"}
        reg.delete_registered_model(args.name)
        return {"deleted": args.name, "table": f"deleted {args.name}"}
    if action == "lineage":
        lineage = reg.lineage(args.name, args.version)
        run, cell, logged = lineage["run"], lineage["cell"], lineage["logged_model"]
        datasets = [f"{d.dataset.name}@{d.dataset.digest}" for d in lineage["datasets"]]
        lines = [
            f"version: {args.name} {lineage['version'].version}",
            f"logged model: {logged.model_id if logged else ''}",
            f"run: {run.info.run_id + ' (' + run.info.run_name + ')' if run else ''}",
            f"cell: {cell.cell_id if cell else ''}",
            "datasets: " + ", ".join(datasets),
        ]
        return {"lineage": _plain(lineage), "table": "\n".join(lines)}
    raise MltrackError(f"unknown models action {action!r}")  # argparse prevents this


def _resolve(args: argparse.Namespace) -> Any:
    """Resolve the model URI; the store is opened only for runs:/ and models:/ URIs."""
    from .uris import resolve_model_uri

    uri = args.model_uri
    if uri.startswith(("runs:", "models:")):
        store = _store(args)
        resolved = resolve_model_uri(uri, store)
        store.close()  # a long-running server must not keep the database file open
        return resolved
    return resolve_model_uri(uri)


def _serve(args: argparse.Namespace) -> dict[str, Any]:
    from .pyfunc_model import load_model_dir
    from .serve import run_server

    resolved = _resolve(args)
    model = load_model_dir(resolved.path)
    info = {"uri": resolved.uri, "name": resolved.name, "version": resolved.version}
    run_server(model, args.host, args.port, info, allowed_hosts=args.allowed_host)
    return {"stopped": resolved.uri, "table": "server stopped"}


def _predict(args: argparse.Namespace) -> dict[str, Any]:
    from .batch import predict_file
    from .pyfunc_model import load_model_dir

    resolved = _resolve(args)
    summary = predict_file(load_model_dir(resolved.path), args.input, args.output, args.with_input)
    summary["model"] = resolved.uri
    summary["table"] = f"wrote {summary['rows']} predictions to {summary['output']}"
    return summary


def _build_docker(args: argparse.Namespace) -> dict[str, Any]:
    from .docker import build_docker_context

    summary = build_docker_context(
        _resolve(args), args.output, args.port, args.base_image, args.allow_unsafe_requirements
    )
    summary["table"] = (
        f"wrote a Docker build context for {summary['model']} to {summary['context']}\n"
        f"build it with: {summary['build']}"
    )
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """Run one model command (the same as ``mltrack <command>``)."""
    from ..cli import main as mltrack_main

    return mltrack_main(argv)


if __name__ == "__main__":
    sys.exit(main())
