"""The worker process of a warm model: loads one model directory and scores requests for it.

Loading a model runs its code (unpickling is code), so the Jupyter server never loads one
itself: :mod:`jupyter_mltrack.models.warm` starts ``python -m
jupyter_mltrack.models._warm_worker <model dir>`` per warm model and talks to it over its
stdin and stdout in frames (a 4-byte big-endian length, then the bytes):

- the worker's first frame is JSON: ``{"ok": true, "pid": …}`` once loaded, or an error;
- then, per request, the server sends a JSON header ``{"content_type": …}`` and the body frame;
  the worker answers one JSON frame, ``{"ok": true, "answer": {"predictions": …}}`` or
  ``{"ok": false, "message", "code", "status"}``.

The worker exits when its stdin closes, so it never outlives the server. What the model
prints goes to stderr (the server's log), never into the protocol.
"""

from __future__ import annotations

import json
import os
import struct
import sys
from typing import IO, Any

_LENGTH = struct.Struct(">I")


def write_frame(out: IO[bytes], data: bytes) -> None:
    """Send one frame."""
    out.write(_LENGTH.pack(len(data)) + data)
    out.flush()


def read_frame(src: IO[bytes]) -> bytes | None:
    """One frame, or None at the end of the stream."""
    head = _read_exactly(src, _LENGTH.size)
    if head is None:
        return None
    data = _read_exactly(src, _LENGTH.unpack(head)[0])
    if data is None:
        return None
    return data


def _read_exactly(src: IO[bytes], size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = src.read(size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def error_frame(exc: BaseException, doing: str) -> dict[str, Any]:
    """An error as the worker reports it (the server raises it again)."""
    from ..errors import ErrorCode, MltrackError

    if isinstance(exc, MltrackError):
        return {"ok": False, "message": exc.message, "code": exc.code.value,
                "status": exc.http_status}  # fmt: skip
    # the model's own code failed: the registered model is at fault, not the server
    return {
        "ok": False,
        "message": f"the model could not be {doing}: {type(exc).__name__}: {exc}",
        "code": ErrorCode.INVALID_STATE.value,
        "status": 400,
    }


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, allow_nan=True).encode("utf-8")


def main(argv: list[str]) -> int:
    """Load ``argv[0]``, then answer requests until stdin closes."""
    # keep the protocol's pipes to ourselves; the model's prints and reads go elsewhere
    out = os.fdopen(os.dup(1), "wb")
    src = os.fdopen(os.dup(0), "rb")
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)

    from .payload import predict_request
    from .pyfunc_model import load_model_dir

    try:
        model = load_model_dir(argv[0])
    except Exception as exc:  # noqa: BLE001 - reported to the server, which answers with it
        write_frame(out, _json(error_frame(exc, "loaded")))
        return 1
    write_frame(out, _json({"ok": True, "pid": os.getpid()}))
    while True:
        header = read_frame(src)
        body = read_frame(src) if header is not None else None
        if header is None or body is None:
            return 0
        content_type = json.loads(header).get("content_type")
        try:
            reply = {"ok": True, "answer": predict_request(model, body, content_type)}
        except Exception as exc:  # noqa: BLE001 - every error goes back as an answer
            reply = error_frame(exc, "used")
        try:
            data = _json(reply)
        except (TypeError, ValueError) as exc:
            data = _json(error_frame(exc, "answered in JSON"))
        write_frame(out, data)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
