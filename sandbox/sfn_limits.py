"""Step Functions' payload quota in moto's ASL interpreter (ASSUMPTIONS, "Documented rules": payload size).

Step Functions: a task's, a state's or an execution's input or output is at most 262,144 bytes as a
UTF-8 encoded JSON string; beyond it the state fails with ``States.DataLimitExceeded``: when the
output of a connector (the raw service result, before ResultSelector) is larger, when the output of
a state is larger, and when the input of a state after Parameters processing is larger. That error is
terminal: a Catch or Retry on ``States.ALL`` does not match it (naming it explicitly does). A
``States.Runtime`` error (a path that cannot be applied to the state's data, e.g. a Parameters JSONPath
absent from the input) is not retriable and always fails the execution: no Catch or Retry matches it.

moto 5.2.1 checks a connector's result and a state's output, one byte short (``<`` the quota), and its
``States.ALL`` matches every error. Patched here (``install``, called from ``moto_patch.install``):
  1. ``moto.stepfunctions.parser.quotas.is_within_size_quota`` and its imported copies: at most the quota;
  2. ``StateTaskService._before_eval_execution``: a service task's input after Parameters is checked too;
  3. ``ErrorEqualsDecl._eval_body``: ``States.ALL`` does not match ``States.DataLimitExceeded``, and
     nothing matches ``States.Runtime``.
"""

from __future__ import annotations

import sys
from typing import Any

PAYLOAD_LIMIT = 262_144  # bytes: Step Functions quotas, "Maximum input or output size for a task, state, or execution"
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
RUNTIME = "States.Runtime"
ORIGINALS: dict[str, Any] = {}


def payload_size(value: Any) -> int:
    """The size Step Functions measures: the UTF-8 bytes of the value as a (compact) JSON string."""
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    return len((value if isinstance(value, str) else to_json_str(value, separators=(",", ":"))).encode("utf-8"))


def within_quota(value: Any) -> bool:
    return payload_size(value) <= PAYLOAD_LIMIT


def _data_limit_failure(env: Any, cause: str, resource_type: str, resource: str) -> Exception:
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    typ = StatesErrorNameType.StatesStatesDataLimitExceeded
    details: Any = {"taskFailedEventDetails": TaskFailedEventDetails(
        error=typ.to_name(), cause=cause, resourceType=resource_type, resource=resource)}  # moto's EventDetails
    return FailureEventException(failure_event=FailureEvent(
        env=env, error_name=StatesErrorName(typ=typ), event_type=HistoryEventType.TaskFailed,
        event_details=details))


def _before_eval_execution(self: Any, env: Any, resource_runtime_part: Any, raw_parameters: dict,
                           state_credentials: Any) -> None:
    size = payload_size(raw_parameters)
    if size > PAYLOAD_LIMIT:
        raise _data_limit_failure(
            env, f"The state/task '{self._get_sfn_resource_type()}' has an input of {size} bytes after Parameters "
                 f"processing, more than the maximum number of bytes service limit ({PAYLOAD_LIMIT}).",
            self._get_sfn_resource_type(), self._get_sfn_resource())
    ORIGINALS["StateTaskService._before_eval_execution"](self, env, resource_runtime_part, raw_parameters,
                                                          state_credentials)


def _error_equals_eval_body(self: Any, env: Any) -> None:
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName

    error_name = env.stack[-1]
    name = error_name.error_name if isinstance(error_name, StatesErrorName) else None
    named = any(getattr(n, "error_name", None) == name for n in self.error_names)
    if name == RUNTIME or (name == DATA_LIMIT_EXCEEDED and not named):
        env.stack.pop()
        env.stack.append(False)  # States.ALL (or States.TaskFailed) does not catch a terminal error
        return
    ORIGINALS["ErrorEqualsDecl._eval_body"](self, env)


def install() -> None:
    import moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda  # noqa: F401 - a user
    from moto.stepfunctions.parser import quotas
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )

    original = ORIGINALS.setdefault("quotas.is_within_size_quota", quotas.is_within_size_quota)
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and getattr(module, "is_within_size_quota", None) is original:
            setattr(module, "is_within_size_quota", within_quota)  # noqa: B010 - moto's imported copies
    ORIGINALS["StateTaskService._before_eval_execution"] = StateTaskService._before_eval_execution
    setattr(StateTaskService, "_before_eval_execution", _before_eval_execution)  # noqa: B010 - a monkeypatch
    ORIGINALS["ErrorEqualsDecl._eval_body"] = ErrorEqualsDecl._eval_body
    setattr(ErrorEqualsDecl, "_eval_body", _error_equals_eval_body)  # noqa: B010 - a monkeypatch
