"""CDC positions: CdcStopPosition, CdcStartPosition/CdcStartTime and RecoveryCheckpoint.

Every position is a point in the source's change log; the sandbox's log is ordered by sim
time, so a position is a UTC datetime. Formats (DMS API reference, StartReplicationTask):
``server_time:YYYY-MM-DDTHH:MM:SS`` / ``commit_time:...`` (stop), a date
``YYYY-MM-DDTHH:MM:SS`` or a checkpoint (start). The sandbox's checkpoints are its own (A10).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from .errors import InvalidParameterValueException

STOP_AT_SERVER_TIME = "Stop Reason STOPPED_AT_SERVER_TIME"
STOP_AT_COMMIT_TIME = "Stop Reason STOPPED_AT_COMMIT_TIME"

_CHECKPOINT = re.compile(r"^checkpoint:V1#(\d{12})#sandbox-changelog\.\d{14}:\d+#0#0#\*#0#\d+$")


@dataclass(frozen=True)
class StopPosition:
    kind: str  # server_time | commit_time
    at: datetime

    @property
    def reason(self) -> str:
        return STOP_AT_SERVER_TIME if self.kind == "server_time" else STOP_AT_COMMIT_TIME


def _utc(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_stop_position(value: str | None) -> StopPosition | None:
    if not value:
        return None
    kind, _, stamp = value.partition(":")
    if kind not in ("server_time", "commit_time"):
        raise InvalidParameterValueException(f"Invalid CdcStopPosition '{value}'")
    try:
        at = datetime.fromisoformat(stamp.strip())
    except ValueError as exc:
        raise InvalidParameterValueException(f"Invalid CdcStopPosition '{value}'") from exc
    return StopPosition(kind, _utc(at))


def checkpoint_at(when: datetime, seq: int) -> str:
    """A recovery checkpoint, lexicographically and numerically monotone in sim time (A10)."""
    return f"checkpoint:V1#{int(when.timestamp()):012d}#sandbox-changelog.{when:%Y%m%d%H%M%S}:{seq}#0#0#*#0#{seq}"


def parse_checkpoint(value: str) -> datetime:
    """The log position of a checkpoint made by ``checkpoint_at`` (whole seconds, rounded down)."""
    match = _CHECKPOINT.match(value)
    if not match:
        raise InvalidParameterValueException(
            f"Invalid CdcStartPosition '{value}': not a checkpoint of this source (expected a RecoveryCheckpoint)"
        )
    return datetime.fromtimestamp(int(match.group(1)), UTC)


def parse_start_position(value: str) -> datetime:
    """CdcStartPosition as a log position: a checkpoint or a date ``YYYY-MM-DDTHH:MM:SS`` (UTC)."""
    if value.startswith("checkpoint:"):
        return parse_checkpoint(value)
    try:
        return _utc(datetime.fromisoformat(value.strip()))
    except ValueError as exc:
        raise InvalidParameterValueException(
            f"Invalid CdcStartPosition '{value}': use a date (YYYY-MM-DDTHH:MM:SS) or a checkpoint"
        ) from exc


def start_time_position(epoch_seconds: float) -> str:
    """CdcStartTime (a timestamp) as the date form of CdcStartPosition, UTC."""
    return datetime.fromtimestamp(float(epoch_seconds), UTC).strftime("%Y-%m-%dT%H:%M:%S")
