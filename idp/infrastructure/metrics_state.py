"""What ``/metrics`` reads at each scrape rather than counts: the e-mail
outbox's depth and the age of its oldest message, and the signing keys'
ages. A database that does not answer leaves the outbox gauges out of that
scrape (Prometheus marks them stale) instead of failing it."""

from __future__ import annotations

import time

from flask import Flask
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from idp.directory.models import utcnow
from idp.infrastructure import database
from idp.keys import KeyStoreError, key_store
from idp.outbox.models import OutboxMessage


class StateCollector:
    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self):
        yield from self._outbox()
        yield from self._keys()

    def _outbox(self):
        try:
            with database.new_session(self.app) as db:
                depth, oldest = db.execute(
                    select(func.count(OutboxMessage.id), func.min(OutboxMessage.created_at))
                    .where(OutboxMessage.sent_at.is_(None))).one()
        except SQLAlchemyError:
            return
        yield GaugeMetricFamily("keyholder_outbox_depth", "E-mails waiting to be sent.",
                                value=depth)
        age = 0.0 if oldest is None else (utcnow() - oldest).total_seconds()
        yield GaugeMetricFamily("keyholder_outbox_oldest_age_seconds",
                                "How long the oldest e-mail has waited.", value=max(age, 0.0))

    def _keys(self):
        try:
            keys = key_store(self.app).list()
        except KeyStoreError:
            return
        family = GaugeMetricFamily("keyholder_signing_key_age_seconds",
                                   "Since each signing key was made.",
                                   labels=["alg", "kid", "state"])
        now = time.time()
        for key in keys:
            family.add_metric([key.alg, key.kid, key.state.value],
                              now - key.created_at.timestamp())
        yield family
