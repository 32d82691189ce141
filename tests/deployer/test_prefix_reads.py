"""prefixes_with_objects: one listing for a new source's prefixes, one per prefix otherwise."""

from __future__ import annotations

from dmsctl.deployer.errors import AwsError
from dmsctl.deployer.live import prefixes_with_objects


class FakeS3:
    def __init__(self, keys, bucket_exists=True):
        self.keys, self.bucket_exists, self.asked = keys, bucket_exists, []

    def call(self, service, op, resource=None, **kw):
        assert (service, op) == ("s3", "list_objects_v2") and kw["MaxKeys"] == 1
        self.asked.append(kw["Prefix"])
        if not self.bucket_exists:
            raise AwsError("The specified bucket does not exist", code="NoSuchBucket", resource=resource or "")
        return {"KeyCount": int(any(k.startswith(kw["Prefix"]) for k in self.keys))}


NEW = ["lake/t/db/s/a/v1/", "lake/t/db/s/b/v1/", "lake/t/db/s/c/v1/"]


def test_an_empty_source_answers_for_all_its_prefixes_in_one_call():
    gw = FakeS3(keys=["lake/other/x"])
    assert prefixes_with_objects(gw, "bucket", NEW) == dict.fromkeys(NEW, False)
    assert gw.asked == ["lake/t/db/"]


def test_a_source_with_data_is_asked_prefix_by_prefix():
    gw = FakeS3(keys=["lake/t/db/s/b/v1/LOAD00000001.parquet"])
    assert prefixes_with_objects(gw, "bucket", NEW) == {NEW[0]: False, NEW[1]: True, NEW[2]: False}
    assert gw.asked == ["lake/t/db/", *NEW]


def test_a_single_prefix_is_asked_directly_and_a_missing_bucket_once():
    gw = FakeS3(keys=[])
    assert prefixes_with_objects(gw, "bucket", ["lake/u/db/s/a/v1/"]) == {"lake/u/db/s/a/v1/": False}
    assert gw.asked == ["lake/u/db/s/a/v1/"]
    gone = FakeS3(keys=[], bucket_exists=False)
    assert set(prefixes_with_objects(gone, "bucket", NEW + ["lake/u/db/s/a/v1/"]).values()) == {None}
    assert len(gone.asked) == 1
