"""The device verification page (RFC 8628 §3.3): the person, signed in at the
provider, types the code the TV shows, sees what the TV asks for, chooses the
customer number when several, and allows or denies.

Wrong codes are counted per client address and per person (RFC 8628 §5.1:
a user code is short; guessing must be slow)."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select

from idp.directory.models import utcnow
from idp.directory.services import Directory
from idp.infrastructure import database, failure_counters
from idp.infrastructure.client_ip import client_ip
from idp.infrastructure.failure_counters import Limit
from idp.login import sessions
from idp.pages.forms import DecisionForm
from idp.pages.scope_words import scope_descriptions
from idp.protocol.grants.device_code import normalise_user_code
from idp.protocol.tokens.models import DeviceAuthorization

blueprint = Blueprint("device", __name__)
WINDOW = timedelta(minutes=15)
WRONG_CODES = 10  # per address and per person per window


def _limits(person_id: str) -> list[Limit]:
    return [Limit(f"device:ip:{client_ip()[:80]}", WRONG_CODES, WINDOW),
            Limit(f"device:person:{person_id}", WRONG_CODES, WINDOW)]


def _pending(db, user_code: str) -> DeviceAuthorization | None:
    return db.scalar(select(DeviceAuthorization).where(
        DeviceAuthorization.user_code == user_code, DeviceAuthorization.decided_at.is_(None),
        DeviceAuthorization.expires_at > utcnow()))


@blueprint.route("/device", methods=["GET", "POST"])
def verify():
    db = database.session()
    sso = sessions.current(db)
    if sso is None:
        return redirect(url_for("login.login", next=request.full_path.rstrip("?")))
    form = DecisionForm()
    typed = request.values.get("user_code", "")

    def page(template="device/enter_code.html", message=None, status=200, **extra):
        extra.setdefault("user_code", typed[:20])
        return render_template(template, form=form, message=message, person=sso.person,
                               **extra), status

    if request.method == "GET":
        return page()
    if not form.validate_on_submit():
        return page(message=_("This page was open too long. Please type the code again."),
                    status=400)
    database.restart_as_writer(db)
    blocked = failure_counters.check(db, _limits(sso.person_id))
    if blocked is not None:
        return page(message=ngettext("Too many wrong codes. Please wait %(num)d minute.",
                                     "Too many wrong codes. Please wait %(num)d minutes.",
                                     blocked.minutes), status=429)
    code = normalise_user_code(typed)
    pending = _pending(db, code) if code else None
    if pending is None:
        failure_counters.record_failure(db, _limits(sso.person_id))
        db.commit()
        return page(message=_("This code is not right, or it has expired. Please check the "
                              "code on your TV screen and type it again."), status=400)
    memberships = list(Directory(db).memberships_of(sso.person))
    decision = request.form.get("decision")
    if decision is None:
        return page("device/confirm.html", user_code=code, client=pending.client,
                    scopes=scope_descriptions(pending.scope), memberships=memberships)
    chosen = None
    if memberships:
        chosen = next((m for m in memberships
                       if m.customer.number == request.form.get("customer", "")), None)
        if chosen is None and len(memberships) == 1:
            chosen = memberships[0]
        if chosen is None and decision == "allow":
            return page("device/confirm.html", user_code=code, client=pending.client,
                        scopes=scope_descriptions(pending.scope), memberships=memberships,
                        message=_("Please choose the customer number to use."), status=400)
    pending.person_id, pending.session_id = sso.person_id, sso.id
    pending.customer_id = chosen.customer_id if chosen else None
    pending.approved, pending.decided_at = decision == "allow", utcnow()
    db.commit()
    return render_template("device/done.html", approved=pending.approved,
                           client=pending.client, person=sso.person)
