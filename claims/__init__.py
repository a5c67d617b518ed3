"""The contract between Keyholder and the services that trust its tokens.

Claim names, the roles and customer types, the customer-number format and
(later) the entitlement policy and the relying-party toolkit. This package
never imports the provider, Flask or a database, so a partner service can
depend on it alone.
"""

from claims.customer_numbers import InvalidCustomerNumber, normalise_customer_number
from claims.schema import CustomerType, Role

__all__ = ["CustomerType", "InvalidCustomerNumber", "Role", "normalise_customer_number"]
