"""stack_deploy reads DescribeStackEvents the way the API pages it (newest first, NextToken): a deploy whose
events run over several pages is reported whole, and a long history costs one call a poll (A41)."""

from __future__ import annotations

import pytest

from dmsctl.deployer import stack_deploy
from dmsctl.deployer.stack_deploy import StackFailure

STACK = "dmsctl-team-food"
PAGE = 100


def _event(n: int, status: str, reason: str = "", logical_id: str = STACK,
           resource_type: str = "AWS::CloudFormation::Stack") -> dict:
    return {"EventId": f"e{n}", "LogicalResourceId": logical_id, "ResourceType": resource_type,
            "ResourceStatus": status, "ResourceStatusReason": reason}


HISTORY = [_event(n, "UPDATE_COMPLETE") for n in range(1, 1001)]  # a long-lived stack
THIS_DEPLOY = (
    [_event(2000, "UPDATE_IN_PROGRESS", "User Initiated"),
     _event(2001, "UPDATE_FAILED", "Resource handler returned message: \"the first failure\"", "FoodsearchTask",
            "AWS::DMS::ReplicationTask")]
    + [_event(2002 + n, "UPDATE_FAILED", "Resource update cancelled", f"Topic{n}", "AWS::SNS::Topic")
       for n in range(250)]
    + [_event(3000, "UPDATE_ROLLBACK_IN_PROGRESS", "The following resource(s) failed to update: [FoodsearchTask]."),
       _event(3001, "UPDATE_ROLLBACK_COMPLETE")]
)


class PagedCloudFormation:
    """The part of the Gateway stack_deploy uses, answering DescribeStackEvents a page at a time."""

    def __init__(self):
        self.executed = False
        self.event_calls = 0

    def call(self, service, method, *, resource="", **params):
        if method == "describe_stacks":
            status = "UPDATE_ROLLBACK_COMPLETE" if self.executed else "UPDATE_COMPLETE"
            return {"Stacks": [{"StackName": STACK, "StackStatus": status}]}
        if method == "describe_stack_events":
            self.event_calls += 1
            events = list(reversed(HISTORY + (THIS_DEPLOY if self.executed else [])))
            start = int(params.get("NextToken", 0))
            answer = {"StackEvents": events[start:start + PAGE]}
            if start + PAGE < len(events):
                answer["NextToken"] = str(start + PAGE)
            return answer
        if method == "create_change_set":
            return {"Id": "arn:aws:cloudformation:eu-west-1:123456789012:changeSet/cs/1"}
        if method == "describe_change_set":
            return {"Status": "CREATE_COMPLETE"}
        if method == "execute_change_set":
            self.executed = True
            return {}
        raise AssertionError(f"unexpected {method}")

    def poll(self, describe, done, *, what, timeout, first_delay=2.0, max_delay=30.0, failed=lambda _: None,
             **_pace):
        for _ in range(10):
            result = describe()
            if done(result):
                return result
        raise AssertionError(f"{what} never finished")


def test_events_over_several_pages_are_all_read_and_the_history_is_not():
    gw = PagedCloudFormation()
    seen: list[str] = []
    with pytest.raises(StackFailure) as err:
        stack_deploy.deploy(gw, STACK, {"TemplateBody": "{}"}, [], "run-1", 600, lambda e: seen.append(e.event_id))
    assert seen == [e["EventId"] for e in THIS_DEPLOY]  # every event of this deploy, once, oldest first
    assert "FoodsearchTask (AWS::DMS::ReplicationTask)" in str(err.value) and "the first failure" in str(err.value)
    # priming reads one page; the first look after the deploy reads this deploy's 3 pages (254 events) and
    # stops at the history; a later look, one page. Never the 1,000 events of history.
    assert gw.event_calls <= 1 + 3 + 3
