"""The admin console (a blueprint mounted in the provider at ``/console``):
my role, become administrator, the administrators, exclusions, hand-over,
the audit trail, and e-mail notifications through an outbox."""
