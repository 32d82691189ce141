"""End-to-end fixtures: the real planner and deployer against the in-process sandbox."""

from __future__ import annotations

import pytest

from dmsctl.compiler.build import compile_tree
from dmsctl.deployer.acknowledgements import plan_acknowledged
from dmsctl.deployer.apply import Applier, Timeouts
from dmsctl.deployer.gateway import Gateway
from dmsctl.deployer.progress import NullSink, Progress


class Harness:
    """Plan and apply a config dir on the sandbox, the way the CLI does, with the sim clock."""

    def __init__(self, sandbox, monkeypatch):
        self.sandbox = sandbox
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")

    def gateway(self, read_only: bool) -> Gateway:
        clock = self.sandbox.clock
        return Gateway(self.sandbox.region, read_only=read_only, endpoint_url=self.sandbox.endpoint_url,
                       sleep=clock.sleep, monotonic=lambda: clock.now().timestamp(), max_attempts=4)

    def compile(self, config_dir, env="staging"):
        result = compile_tree(config_dir, env)
        assert result.ok, [str(d) for d in result.diagnostics]
        return result

    def plan(self, config_dir, env="staging", flags=None):
        from dmsctl.deployer.checks import Flags

        gw = self.gateway(read_only=True)
        # as `dmsctl plan` and apply plan: acknowledgements (flags, configs/acknowledgements.yaml) recorded
        planned = plan_acknowledged(self.compile(config_dir, env), gw, flags or Flags())
        return planned, gw

    def apply(self, config_dir, env="staging", flags=None, **kw):
        from dmsctl.deployer.checks import Flags

        gw = self.gateway(read_only=False)
        progress = Progress(sink=NullSink(), monotonic=lambda: self.sandbox.clock.now().timestamp())
        applier = Applier(gw, self.compile(config_dir, env), progress, flags=flags or Flags(),
                          timeouts=kw.pop("timeouts", Timeouts()), **kw)
        code = applier.run()
        return code, applier, progress


@pytest.fixture
def harness(sandbox, monkeypatch):
    return Harness(sandbox, monkeypatch)


_LOADER = []


@pytest.fixture
def shared_botocore_loader(sandbox, monkeypatch):
    """Every Gateway's botocore session shares one data loader, so service models are parsed once per
    test process instead of once per Gateway (a second or more per test). Test speed only."""
    import types

    import boto3
    import botocore.loaders
    import botocore.session

    from dmsctl.deployer import gateway

    if not _LOADER:
        _LOADER.append(botocore.loaders.create_loader())

    def session(region_name=None, profile_name=None, botocore_session=None):
        core = botocore_session or botocore.session.get_session()  # the gateway's, with its timestamp parser
        core.register_component("data_loader", _LOADER[0])
        return boto3.session.Session(region_name=region_name, profile_name=profile_name,
                                     botocore_session=core)

    boto3_for_gateway = types.SimpleNamespace(session=types.SimpleNamespace(Session=session))
    monkeypatch.setattr(gateway, "boto3", boto3_for_gateway)
