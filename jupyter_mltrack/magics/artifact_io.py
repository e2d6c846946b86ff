"""Writing artifacts and tags that the kernel side produces itself (outputs, snapshots).

The public ``log_*`` calls refuse a run that has ended, as MLflow's do. A notebook snapshot is
taken just after its run ended (the cell that ended it belongs in it), so these writes go one
level down: the file is written through the store and its index row goes through the same log
buffer as every other logged item, carrying the cell it came from.
"""

from __future__ import annotations

from ..clock import now_ms
from ..store.batch import ArtifactRow, TagRow
from ..tracking.session import TrackingSession
from ..validation import check_artifact_path


def write_artifact(
    session: TrackingSession, run_id: str, path: str, data: bytes, cell_id: str | None
) -> str:
    """Store ``data`` as the artifact ``path`` of a run (ended or not); return the path."""
    rel = check_artifact_path(path, "artifact path")
    session.ensure_stored(run_id)  # a run still in the buffer has no folder in the store yet
    written, size, media = session.store.save_artifact_bytes(run_id, rel, data)
    session.buffer.add_artifacts([ArtifactRow(run_id, written, size, media, cell_id, now_ms())])
    return written


def set_tags_any_state(
    session: TrackingSession, run_id: str, tags: dict[str, str], cell_id: str | None
) -> None:
    """Set tags on a run whatever its status (the keys are ours, known to be valid)."""
    session.buffer.add_tags([TagRow(run_id, k, v, cell_id) for k, v in tags.items()])
