"""Domain errors: a stable code for programs, a message for people, the HTTP status for the API."""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def as_json(self) -> dict[str, object]:
        body: dict[str, object] = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return {"error": body}


class FieldErrors(DomainError):
    """Every field a form got wrong at once (a form is read whole, so its organiser mends them together): the first
    one's code, message and field as any DomainError's, and `errors`, all of them, in the form's order."""

    def __init__(self, errors: list[DomainError]) -> None:
        first = errors[0]
        super().__init__(first.message, code=first.code, field=first.field)
        self.status = first.status
        self.errors = errors

    def as_json(self) -> dict[str, object]:
        return {**super().as_json(), "errors": [error.as_json()["error"] for error in self.errors]}


def raise_all(errors: list[DomainError]) -> None:
    """Nothing when nothing went wrong, else a FieldErrors of them all (one alone too: an API client reads `errors`
    whatever their number)."""
    if errors:
        raise FieldErrors(errors)


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    """The caller is known but their role may not do this."""

    status = 403
    code = "forbidden"


class VoteRejected(DomainError):
    """The vote cannot be placed as asked: the voter can change the request and try again."""

    status = 422
    code = "vote_rejected"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class RateLimited(DomainError):
    """Too many attempts from one payer or address: try again later."""

    status = 429
    code = "rate_limited"


class ProviderFailed(DomainError):
    """A payment provider refused or did not answer what we asked of it; nothing changed here."""

    status = 502
    code = "provider_failed"
