"""Seconds since the epoch, as JWT claims count them."""

from datetime import datetime


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())
