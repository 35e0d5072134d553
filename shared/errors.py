"""One base error; subclasses say whether retrying can help.

Adapters turn SDK errors into these (`raise ... from exc`); logic and handlers branch on the type,
never on message text.
"""

from __future__ import annotations

from shared.causes import CauseCode


class SpaceportError(Exception):
    """Base of every error we raise on purpose."""

    retryable: bool = False


class TransientError(SpaceportError):
    """Throttling, capacity, a network blip: the same call may succeed later."""

    retryable = True


class UserInputError(SpaceportError):
    """The request or the photos are wrong; the user must change something."""

    def __init__(self, cause: CauseCode, message: str) -> None:
        super().__init__(message)
        self.cause = cause
        self.message = message


class NotFoundError(SpaceportError):
    """The thing asked for does not exist (or is not the caller's to see)."""


class ConfigurationError(SpaceportError):
    """A deployment setting is missing or wrong: a bug in how we were deployed."""


class QuotaExceeded(SpaceportError):
    """The account's service quota refuses the compute job (SageMaker ResourceLimitExceeded).

    Retrying cannot help until someone raises the quota: the job fails at once, and the advice
    names the quota (`quota`, as Service Quotas spells it) and the instance type.
    """

    def __init__(self, quota: str, instance_type: str, detail: str) -> None:
        super().__init__(f"{quota}: {detail}")
        self.quota = quota
        self.instance_type = instance_type
        self.detail = detail
