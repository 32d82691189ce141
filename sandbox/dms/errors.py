"""DMS API faults, serialized by moto as JSON errors (HTTP 400)."""

from moto.core.exceptions import JsonRESTError


class DmsError(JsonRESTError):
    code = 400
    error_type = "DmsError"

    def __init__(self, message: str):
        super().__init__(self.error_type, message)


class ResourceNotFoundFault(DmsError):
    error_type = "ResourceNotFoundFault"


class InvalidResourceStateFault(DmsError):
    error_type = "InvalidResourceStateFault"


class ResourceAlreadyExistsFault(DmsError):
    error_type = "ResourceAlreadyExistsFault"


class InvalidParameterValueException(DmsError):
    error_type = "InvalidParameterValueException"


class InvalidParameterCombinationException(DmsError):
    error_type = "InvalidParameterCombinationException"
