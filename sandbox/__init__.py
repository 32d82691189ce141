"""The sandbox: an offline AWS account (moto plus the DMS, CloudFormation and Step Functions behaviour
moto lacks). Needs the ``sandbox`` extra: ``pip install 'dmsctl[sandbox]'``.

Importing this package needs nothing beyond dmsctl's own dependencies; the modules that run the
account import moto, so callers check :func:`require_sandbox_extra` first.
"""

from __future__ import annotations

INSTALL_HINT = "pip install 'dmsctl[sandbox]'"


class SandboxUnavailable(RuntimeError):
    """moto (the sandbox extra) is not installed."""


def require_sandbox_extra() -> None:
    """Raise SandboxUnavailable with the install command when moto is missing."""
    try:
        import moto  # noqa: F401
    except ImportError as exc:
        raise SandboxUnavailable(
            f"the sandbox needs the 'sandbox' extra (moto, the simulator's engine): {INSTALL_HINT}") from exc
