"""Domain errors, free of HTTP; the API layer maps them to problem+json (400, 403, 404, 409)."""


class DomainError(Exception):
    status = 400
    title = "Invalid request"


class InvalidInput(DomainError):
    """Input a person can correct; ``field`` names it (``resident.phone``)."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


class Forbidden(DomainError):
    """The caller's role is admitted, but not for this object (a handler acting for another unit)."""
    status = 403
    title = "Forbidden"


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Conflict(DomainError):
    status = 409
    title = "Conflict"
