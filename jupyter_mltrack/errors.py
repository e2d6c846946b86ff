"""The package's one error type, with codes that map to HTTP statuses in one place.

The codes are MLflow's, so the REST layer can answer MLflow clients in the shape they expect.
"""

from __future__ import annotations

from enum import Enum


class ErrorCode(str, Enum):
    """Error codes shared by the Python API, the CLI and both REST APIs."""

    INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
    RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
    RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    INVALID_STATE = "INVALID_STATE"
    STORE_UNAVAILABLE = "STORE_UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID_PARAMETER_VALUE: 400,
    ErrorCode.RESOURCE_ALREADY_EXISTS: 400,
    ErrorCode.RESOURCE_DOES_NOT_EXIST: 404,
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.INVALID_STATE: 400,
    ErrorCode.STORE_UNAVAILABLE: 503,
    ErrorCode.INTERNAL_ERROR: 500,
}


class MltrackError(Exception):
    """Raised for every error the package reports to its users.

    Parameters
    ----------
    message:
        What went wrong, phrased for the person who called.
    code:
        One of :class:`ErrorCode`; decides the HTTP status on the REST faces.
    """

    def __init__(self, message: str, code: ErrorCode = ErrorCode.INVALID_PARAMETER_VALUE):
        super().__init__(message)
        self.message = message
        self.code = ErrorCode(code)

    @property
    def http_status(self) -> int:
        """The HTTP status the REST faces answer this error with."""
        return HTTP_STATUS[self.code]

    def to_dict(self) -> dict[str, str]:
        """The JSON error body, in MLflow's shape."""
        return {"error_code": self.code.value, "message": self.message}


class InvalidFilterError(MltrackError):
    """A search filter or order-by clause that cannot be parsed or compiled.

    ``position`` is the 0-based character offset where the problem was found.
    """

    def __init__(self, message: str, text: str, position: int):
        super().__init__(f"Invalid filter at position {position}: {message} (in {text!r})")
        self.text = text
        self.position = position
