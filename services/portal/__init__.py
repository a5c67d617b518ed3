"""The operator's self-care portal: subscriptions, bills, usage, options and
Bizz Club points of the customer number the token speaks for, shown and
changed as the person's entitlements allow (docs/design.md): administrators see
and manage everything, users the usage and free options of their own mobile.

It has its own data store (:mod:`services.operator_data`, a SQLite file) and
knows people only through their tokens. Its records are shown in the
person's language (:mod:`services.portal.words`); a paid option is activated
only once its price is confirmed (:mod:`services.portal.confirmation`).
"""

from services.portal.app import PortalConfig, create_app
from services.portal.words import euros

__all__ = ["PortalConfig", "create_app", "euros"]
