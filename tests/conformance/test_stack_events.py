"""DescribeStackEvents pages with NextToken: the deployer follows it to find a resource's failure reason."""

from __future__ import annotations

import json

import botocore.exceptions
import pytest

from . import dms as d

HANDLES = 60  # free no-op resources: on AWS two events each, more than one page (AWS pages them by 100)


def _stack(account):
    name = account.name("events")
    body = {"Resources": {f"Handle{i}": {"Type": "AWS::CloudFormation::WaitConditionHandle"} for i in range(HANDLES)}}
    cfn = account.client("cloudformation")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(body))

    def delete():
        cfn.delete_stack(StackName=name)
        account.wait_until(f"stack {name} to be deleted", lambda: _status(cfn, name),
                           lambda status: status in (None, "DELETE_COMPLETE"), d.TASK_LIMIT)

    account.cleanup.push(f"CloudFormation stack {name}", delete)
    status = account.wait_until(f"stack {name} to be created", lambda: _status(cfn, name),
                                lambda status: not str(status).endswith("_IN_PROGRESS"), d.TASK_LIMIT)
    assert status == "CREATE_COMPLETE", status
    return name


def _status(cfn, name):
    try:
        return cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    except botocore.exceptions.ClientError as exc:
        if "does not exist" in exc.response["Error"].get("Message", ""):
            return None
        raise


def _pages(account, name):
    cfn = account.client("cloudformation")
    pages, token = [], None
    while True:
        page = cfn.describe_stack_events(StackName=name, **({"NextToken": token} if token else {}))
        pages.append(page["StackEvents"])
        token = page.get("NextToken")
        if not token:
            return pages


@pytest.mark.conformance("stack-events-next-token")
def test_following_next_token_gives_every_event_once(account):
    name = _stack(account)
    events = [e for page in _pages(account, name) for e in page]
    ids = [e["EventId"] for e in events]
    assert len(ids) == len(set(ids)), "an event came twice across pages"
    stack_events = [e["ResourceStatus"] for e in events if e["LogicalResourceId"] == name]
    # newest first: the last page ends with the stack's first event, so every page was read
    assert stack_events[0] == "CREATE_COMPLETE" and stack_events[-1] == "CREATE_IN_PROGRESS", stack_events


@pytest.mark.xfail(strict=True, reason="sandbox: this stack's events come in one page (the sandbox pages its own "
                   "stacks' events by 100, tests/sandbox/test_aws_rules_cfn_sfn_s3.py; why this 60-handle stack "
                   "stays under one page is not yet examined)")
@pytest.mark.conformance("stack-events-next-token")
def test_many_stack_events_come_in_more_than_one_page(account):
    assert len(_pages(account, _stack(account))) > 1, "every event came in one page: NextToken never returned"
