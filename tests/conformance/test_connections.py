"""Documented connection rules the deployer relies on: it tests both connections before a first start."""

from __future__ import annotations

import re

import botocore.exceptions
import pytest

from . import dms as d

START_REFUSED = re.compile(r"Test connection for replication instance \S+ and endpoint \S+ should be successful "
                           r"for starting the replication task")


def _fresh_pair(account):
    """A source and a target endpoint that no connection test has seen yet."""
    source = d.create_endpoint(account, "src", "source", account.source.endpoint)
    target = d.create_endpoint(account, "tgt", "target", d.s3_target_params(account, account.infra.bucket_folder))
    return source, target


def _refused_start(account, arn):
    with pytest.raises(botocore.exceptions.ClientError) as err:
        d.start(account, arn)
    return d.error_of(err)


@pytest.mark.conformance("create-endpoint-no-test")
def test_create_endpoint_runs_no_connection_test(account):
    source, target = _fresh_pair(account)
    assert d.connections(account, source) == [], "CreateEndpoint tested the source connection"
    assert d.connections(account, target) == [], "CreateEndpoint tested the target connection"


@pytest.mark.conformance("start-needs-connection-tests")
def test_start_is_refused_until_both_connections_tested(account):
    source, target = _fresh_pair(account)
    arn = d.create_task(account, "untested", "full-load", d.mappings(account.source.schema, account.source.tables[0]),
                        source_arn=source, target_arn=target)
    code, message = _refused_start(account, arn)
    assert code == "InvalidResourceStateFault", (code, message)
    assert START_REFUSED.search(message), message
    assert d.run_connection_test(account, target) == "successful"
    code, message = _refused_start(account, arn)  # the source is still untested
    assert (code, bool(START_REFUSED.search(message))) == ("InvalidResourceStateFault", True), (code, message)
    assert d.describe_task(account, arn)["Status"] == "ready"


@pytest.mark.conformance("start-needs-connection-tests")
def test_start_is_accepted_once_both_connections_tested(account):
    account.require_source()
    source, target = _fresh_pair(account)
    arn = d.create_task(account, "tested", "full-load", d.mappings(account.source.schema, account.source.tables[0]),
                        source_arn=source, target_arn=target)
    assert d.run_connection_test(account, source) == "successful"
    assert d.run_connection_test(account, target) == "successful"
    assert d.start(account, arn)["Status"] == "starting"


@pytest.mark.conformance("connection-already-being-tested")
def test_testing_a_pair_already_being_tested_is_refused(account):
    _, target = _fresh_pair(account)
    dms = account.client("dms")
    dms.test_connection(ReplicationInstanceArn=account.infra.instance_arn, EndpointArn=target)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        dms.test_connection(ReplicationInstanceArn=account.infra.instance_arn, EndpointArn=target)
    code, message = d.error_of(err)
    assert "Connection is already being tested" in message, (code, message)  # the deployer reads the message
    assert [c["Status"] for c in d.wait_connections(account, target)] == ["successful"]
