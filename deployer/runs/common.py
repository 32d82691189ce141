"""Small pieces the two run sequences share."""

from __future__ import annotations

import uuid
from datetime import datetime

from dmsctl.deployer.progress import NullSink, Progress


def new_run_id(at: datetime) -> str:
    """<run time YYYYMMDDHHMMSS>-<6 hex>: sorts by run time, unique across retries of one time."""
    return at.strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:6]


class Emitter:
    def __init__(self, progress: Progress | None, task_id: str):
        self.progress = progress or Progress(sink=NullSink())
        self.task_id = task_id

    def emit(self, kind: str, message: str) -> None:
        self.progress.emit(kind, message, task=self.task_id)
