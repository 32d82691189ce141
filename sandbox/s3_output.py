"""Objects a DMS task writes to its S3 target, written into moto's S3 backend.

The sandbox never overwrites: a write whose key already exists is skipped and recorded in
``World.overwrites`` (the data lake must never lose data; a caller that makes DMS rewrite a path
has a bug the tests should catch). It deletes only what DMS deletes when a task's settings ask for
it: a source TRUNCATE under HandleSourceTableTruncated true removes the table's files (A65), each
recorded in ``World.deletions``.
"""

from __future__ import annotations

from moto.s3.exceptions import MissingBucket
from moto.s3.models import s3_backends

from .world import Deletion, Overwrite, World


class OutputError(Exception):
    """The target bucket is missing: the writing task fails with this message."""


def _backend(account_id: str):
    return s3_backends[account_id]["aws"]


def object_exists(account_id: str, bucket: str, key: str) -> bool:
    try:
        b = _backend(account_id).get_bucket(bucket)
    except MissingBucket:
        return False
    return key in b.keys


def write_object(world: World, account_id: str, bucket: str, key: str, body: bytes, writer: str) -> bool:
    backend = _backend(account_id)
    try:
        backend.get_bucket(bucket)
    except MissingBucket as exc:
        raise OutputError(f"Failed to upload file to bucket '{bucket}': the bucket does not exist") from exc
    if object_exists(account_id, bucket, key):
        world.overwrites.append(Overwrite(bucket=bucket, key=key, writer=writer))
        return False
    backend.put_object(bucket, key, body)
    return True


def delete_table_files(world: World, account_id: str, bucket: str, prefix: str, writer: str) -> list[str]:
    """Delete every object under ``prefix`` (a table's folder, ending in ``/``); the keys deleted."""
    backend = _backend(account_id)
    try:
        keys = [k for k in backend.get_bucket(bucket).keys if k.startswith(prefix)]
    except MissingBucket:
        return []
    for key in keys:
        backend.delete_object(bucket, key)
        world.deletions.append(Deletion(bucket=bucket, key=key, writer=writer))
    return keys


def join_key(*segments: str) -> str:
    return "/".join(s.strip("/") for s in segments if s and s.strip("/"))
