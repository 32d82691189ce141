"""mappings_equal pairs rules by rule-id and compares them without canonical texts: it must say exactly
what comparing the two canonical rule sets (normalize_mappings) says."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from dmsctl.deployer.mappings_semantics import mappings_equal, normalize_mappings
from dmsctl.sandbox.dms.mappings import normalize as dms_normalize


def by_sets(a, b) -> bool:
    return normalize_mappings(a) == normalize_mappings(b)


def rules(*rs: dict) -> str:
    return json.dumps({"rules": list(rs)})


SELECT = {"rule-type": "selection", "rule-id": 1, "rule-name": "1", "rule-action": "explicit",
          "object-locator": {"schema-name": "app", "table-name": "users"}}
RENAME = {"rule-type": "transformation", "rule-id": "2", "rule-name": "2", "rule-target": "table",
          "rule-action": "rename", "object-locator": {"schema-name": "app", "table-name": "users"},
          "value": "users/v1"}


def test_dms_rewriting_is_no_difference():
    ours = rules(SELECT, RENAME)
    assert mappings_equal(ours, dms_normalize(ours))  # key order, "filters": [], ids as strings
    assert mappings_equal(ours, rules(RENAME, {**SELECT, "parallel-load": None, "load-order": None}))


def test_a_changed_value_or_a_missing_rule_is_a_difference():
    assert not mappings_equal(rules(SELECT, RENAME), rules(SELECT, {**RENAME, "value": "users/v2"}))
    assert not mappings_equal(rules(SELECT, RENAME), rules(SELECT))
    assert not mappings_equal(rules(SELECT, RENAME), rules(SELECT, {**RENAME, "rule-id": "3"}))


def test_json_types_stay_apart_and_nested_nulls_are_absent():
    flag = {**SELECT, "object-locator": {"schema-name": "app", "table-name": "users", "flag": 1}}
    assert not mappings_equal(rules(flag), rules({**flag, "object-locator": {**flag["object-locator"], "flag": True}}))
    assert not mappings_equal(rules(flag), rules({**flag, "object-locator": {**flag["object-locator"], "flag": 1.0}}))
    nulled = {**SELECT, "object-locator": {**SELECT["object-locator"], "column-name": None}}
    assert mappings_equal(rules(SELECT), rules(nulled))


def test_rules_without_unique_ids_compare_as_sets():
    twice = rules(SELECT, {**SELECT})
    assert mappings_equal(twice, rules(SELECT)) and by_sets(twice, rules(SELECT))
    no_id = {k: v for k, v in SELECT.items() if k != "rule-id"}
    assert mappings_equal(rules(no_id, RENAME), rules(RENAME, no_id))


JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.sampled_from([1.0, 2.5]),
                         st.sampled_from(["1", "2", "x", "true", "users/v1"]))
VALUES = st.recursive(JSON_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=2), st.dictionaries(st.sampled_from(["a", "b", "schema-name"]), inner, max_size=2)),
    max_leaves=4)
KEYS = st.sampled_from(["rule-type", "rule-id", "rule-name", "filters", "parallel-load", "load-order",
                        "rule-action", "object-locator", "value"])
RULES = st.dictionaries(KEYS, VALUES, max_size=5).flatmap(
    lambda r: st.one_of(st.just(r), st.sampled_from([1, "1", 2, "2", 1.0]).map(lambda i: {**r, "rule-id": i})))


@settings(max_examples=400, deadline=None)
@given(st.lists(RULES, max_size=3), st.lists(RULES, max_size=3), st.booleans(), st.randoms())
def test_the_same_answer_as_comparing_canonical_sets(a, b, copy, rnd):
    if copy:  # mostly the same rules, shuffled, with one value changed or not
        b = [dict(r) for r in a]
        rnd.shuffle(b)
    for x, y in ((a, b), (a, a)):
        da, db = {"rules": x}, {"rules": y}
        for left, right in ((da, db), (json.dumps(da), json.dumps(db)), (json.dumps(da), db)):
            assert mappings_equal(left, right) == by_sets(left, right)
