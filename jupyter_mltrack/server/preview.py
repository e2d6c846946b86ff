"""Artifact previews: a small JSON description of a file that a view can show inline.

Kinds: ``text``, ``json``, ``table`` (the first rows of a CSV, TSV or Parquet file), ``image``
(base64), ``html`` (to be shown in a sandboxed frame, never inserted into the page) and
``binary`` (no preview, only size and type). Every kind is bounded by the limits passed in, so
a preview never reads a whole large file.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..artifacts import media_type_of

#: the most columns a table preview shows (a one-line CSV can hold hundreds of thousands)
MAX_COLUMNS = 300
#: JSON previews deeper than this are shown as text (the answer is JSON too, and every
#: layer that writes it recurses)
MAX_JSON_DEPTH = 100

_IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml", "image/bmp"}


@dataclass(frozen=True)
class PreviewLimits:
    """How much of a file a preview may read.

    Parameters
    ----------
    max_bytes:
        Text, JSON and HTML: bytes read at most.
    max_rows:
        Tables: rows returned at most.
    max_image_bytes:
        Images larger than this get no inline preview.
    """

    max_bytes: int = 1_000_000
    max_rows: int = 100
    max_image_bytes: int = 5_000_000


def _read_head(path: Path, limit: int) -> tuple[bytes, bool]:
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    return data[:limit], len(data) > limit


def _looks_binary(head: bytes) -> bool:
    if b"\x00" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sample is still text
        return exc.start < len(head) - 3
    return False


def _csv_table(path: Path, delimiter: str, limits: PreviewLimits) -> dict[str, Any]:
    # Only the first max_bytes are parsed, so neither a very long line nor a very wide row
    # can make the preview read (or answer) the whole file.
    head, cut = _read_head(path, limits.max_bytes)
    if cut and b"\n" in head:
        head = head[: head.rindex(b"\n") + 1]  # a partial last line is no row
    text = head.decode("utf-8", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, [])
    rows: list[list[str]] = []
    truncated = cut
    for row in reader:
        if len(rows) >= limits.max_rows:
            truncated = True
            break
        rows.append(row[:MAX_COLUMNS])
    out: dict[str, Any] = {
        "kind": "table",
        "columns": header[:MAX_COLUMNS],
        "rows": rows,
        "truncated": truncated,
    }
    if len(header) > MAX_COLUMNS or any(len(r) == MAX_COLUMNS for r in rows):
        out["columns_truncated"] = True
    return out


def _parquet_table(path: Path, limits: PreviewLimits) -> dict[str, Any]:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    total = parquet.metadata.num_rows
    all_names = parquet.schema_arrow.names
    shown = all_names[:MAX_COLUMNS]
    extra = {"columns_truncated": True} if len(all_names) > MAX_COLUMNS else {}
    batch = next(parquet.iter_batches(batch_size=max(1, limits.max_rows), columns=shown), None)
    if batch is None:
        return {"kind": "table", "columns": shown, "rows": [], "truncated": False, **extra}
    columns = batch.to_pydict()
    names = list(columns)
    rows = [[_jsonable(columns[n][i]) for n in names] for i in range(batch.num_rows)]
    return {"kind": "table", "columns": names, "rows": rows, "truncated": total > len(rows),
            **extra}  # fmt: skip


def _nested_deeper_than(data: Any, limit: int) -> bool:
    """Whether a parsed JSON document nests more than ``limit`` deep (checked without
    recursion)."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return False


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def preview_file(path: Path, rel: str, limits: PreviewLimits) -> dict[str, Any]:
    """Describe the artifact file at ``path`` (named ``rel`` in the run) for an inline view.

    Returns
    -------
    dict
        Always ``path``, ``size``, ``media_type`` and ``kind``; then per kind: ``text`` and
        ``truncated`` (text, html), ``data`` (json: the parsed document; image: base64),
        ``columns``/``rows``/``truncated`` (table).
    """
    size = path.stat().st_size
    media_type = media_type_of(rel)
    suffix = PurePosixPath(rel).suffix.lower()
    out: dict[str, Any] = {"path": rel, "size": size, "media_type": media_type}

    if media_type in _IMAGE_TYPES:
        if size > limits.max_image_bytes:
            out.update(kind="binary", reason=f"image larger than {limits.max_image_bytes} bytes")
        else:
            out.update(kind="image", data=base64.b64encode(path.read_bytes()).decode("ascii"))
        return out
    try:
        if suffix in (".csv", ".tsv"):
            out.update(_csv_table(path, "\t" if suffix == ".tsv" else ",", limits))
            return out
        if suffix == ".parquet":
            out.update(_parquet_table(path, limits))
            return out
    except (csv.Error, OSError, ValueError) as exc:
        # pyarrow's errors derive from ValueError/OSError: a damaged file gets no table
        out.update(kind="binary", reason=f"cannot read the file as a table: {exc}")
        return out

    head, truncated = _read_head(path, limits.max_bytes)
    if suffix == ".json" and not truncated:
        try:
            data = json.loads(head)
        except (ValueError, RecursionError):
            pass  # not valid JSON after all (or nested too deep to parse): show it as text
        else:
            if not _nested_deeper_than(data, MAX_JSON_DEPTH):
                out.update(kind="json", data=data)
                return out
    if suffix in (".html", ".htm"):
        out.update(kind="html", text=head.decode("utf-8", errors="replace"), truncated=truncated)
        return out
    if not _looks_binary(head[:8192]):
        out.update(kind="text", text=head.decode("utf-8", errors="replace"), truncated=truncated)
    else:
        out.update(kind="binary", reason="not a format that can be previewed")
    return out
