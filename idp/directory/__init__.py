"""The customer directory: customers, persons, their memberships and the audit trail."""
