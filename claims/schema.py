"""Names that appear on the wire, declared once (DESIGN §1 and §2)."""

from enum import StrEnum


class Role(StrEnum):
    """A member's role under one customer number. Binary on purpose: the help
    page says "it is not possible to delegate certain parts"."""

    ADMINISTRATOR = "administrator"
    USER = "user"


class CustomerType(StrEnum):
    BUSINESS = "business"
    RESIDENTIAL = "residential"
