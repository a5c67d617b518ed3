"""Why a directory operation was refused. Each error carries a sentence for people."""


class DirectoryError(Exception):
    """Base class: ``reason`` is safe to show to the operator or the person."""

    code = "directory_error"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidInput(DirectoryError):
    code = "invalid_input"


class InvalidEmail(InvalidInput):
    code = "invalid_email"


class InvalidMobile(InvalidInput):
    code = "invalid_mobile"


class InvalidName(InvalidInput):
    code = "invalid_name"


class InvalidPassword(InvalidInput):
    code = "invalid_password"


class Conflict(DirectoryError):
    code = "conflict"


class DuplicateEmail(Conflict):
    code = "duplicate_email"


class DuplicateCustomer(Conflict):
    code = "duplicate_customer"


class DuplicateMembership(Conflict):
    code = "duplicate_membership"


class NotFound(DirectoryError):
    code = "not_found"


class UnknownCustomer(NotFound):
    code = "unknown_customer"


class UnknownPerson(NotFound):
    code = "unknown_person"


class OneAdministratorOnly(Conflict):
    """The residential one-administrator rule: a residential customer has one
    administrator at most. Raised by the directory when it decides, and for
    any write that the database's index refuses."""

    code = "residential_has_administrator"

    def __init__(self, reason: str = "A residential customer has one administrator at most, "
                                     "and this one has one already.") -> None:
        super().__init__(reason)
