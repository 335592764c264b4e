"""Domain errors: what went wrong, in words, with no HTTP in it.

Every service renders these in its own wire format (NGSI-LD ProblemDetails, RFC 9457
problem+json, TMF Error); the mapping to status codes lives in the HTTP layer
(:mod:`mims_shared.web.problems`). Messages name subject, verb and context:
``Entity urn:ngsi-ld:X does not exist``.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    #: A short, stable, human-readable summary of the kind of error.
    title: str = "Error"

    def __init__(self, detail: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        #: Extra members for the error body (e.g. the list of violations).
        self.extra: dict[str, Any] = extra or {}


# --- the request itself is wrong -------------------------------------------------------
class InvalidRequest(DomainError):
    """The request is syntactically wrong: malformed JSON, unknown parameter, bad syntax."""

    title = "Invalid request"


class BadRequestData(DomainError):
    """The request is well formed but its content is not acceptable."""

    title = "Bad request data"


class UnsupportedMediaType(DomainError):
    """The request body comes in a media type the operation does not take."""

    title = "Unsupported media type"


class NotAcceptable(DomainError):
    """None of the media types the client accepts can be produced."""

    title = "Not acceptable"


class PayloadTooLarge(DomainError):
    """The request body is larger than the configured limit."""

    title = "Payload too large"


class MethodNotAllowed(DomainError):
    """The resource exists but does not support the method."""

    title = "Method not allowed"

    def __init__(self, detail: str, *, allowed: list[str] | None = None) -> None:
        super().__init__(detail)
        self.allowed = allowed or []


class OperationNotSupported(DomainError):
    """The operation is understood but not supported by this implementation."""

    title = "Operation not supported"


# --- the state of the resources --------------------------------------------------------
class NotFound(DomainError):
    """The resource does not exist (or is not visible to the caller)."""

    title = "Resource not found"


class AlreadyExists(DomainError):
    """A resource with the same identity exists already."""

    title = "Already exists"


class Conflict(DomainError):
    """The request conflicts with the current state of the resource."""

    title = "Conflict"


# --- who is asking ---------------------------------------------------------------------
class Unauthenticated(DomainError):
    """No valid credentials were presented."""

    title = "Unauthenticated"


class Forbidden(DomainError):
    """The caller is known but not allowed to do this."""

    title = "Forbidden"


class TooManyRequests(DomainError):
    """The caller exceeded its rate limit."""

    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after_s: int = 1) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


# --- our dependencies ------------------------------------------------------------------
class ServiceUnavailable(DomainError):
    """A dependency this service needs (its database, an upstream) cannot be reached."""

    title = "Service unavailable"


class UpstreamTimeout(DomainError):
    """An upstream service did not answer in time."""

    title = "Upstream timeout"


class BadGateway(DomainError):
    """An upstream service answered with something that is not a valid response."""

    title = "Bad gateway"
