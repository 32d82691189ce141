"""Conformance checks: the behaviours the deployer relies on, in plain boto3, against the sandbox or AWS."""
