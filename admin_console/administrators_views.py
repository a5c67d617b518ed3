"""The console's pages for administrators: the members and their roles,
exclusions, making a user administrator, removing a member, self-promotion,
the second factor of administrators, stepping down, handing over, the audit
trail. Invitations are :mod:`admin_console.invitation_views`. Everything is
scoped to the customer shown in the console; ids in forms are checked to
belong to it ("Scoped to the customer shown", docs/security.md)."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from admin_console import administration, context, invitations
from admin_console.blueprint import blueprint
from admin_console.forms import ButtonForm, InvitationIdForm, InviteForm, MemberForm
from idp.directory import audit_words
from idp.directory.locks import count_administrators
from idp.directory.models import AuditEvent
from idp.directory.services import Directory
from idp.i18n import _l
from idp.infrastructure import database

TOO_OLD = _l("This page was open too long. Nothing was changed; please try again.")
AUDIT_PAGE = 50  # events per page of the audit trail, newest first


def administrator():
    console = context.load()
    if not console.is_administrator:
        abort(403, _("Only an administrator of this customer number can see this page."))
    return console


def report(result) -> None:
    flash(str(result.message), "done" if result else "refused")  # a lazy one too


def number_in(raw: str | None) -> int | None:
    """An id from a form: ASCII digits, or nothing."""
    raw = raw or ""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 12 else None


def _member_id(form: MemberForm) -> int | None:
    return number_in(form.membership.data)


def members_page(console, invite_form: InviteForm | None = None, message: str | None = None,
                 status: int = 200):
    db = database.session()
    return render_template(
        "console/members.html", console=console, form=ButtonForm(),
        invite_form=invite_form or InviteForm(formdata=None), message=message,
        members=Directory(db).members_of(console.customer),
        invitations=invitations.pending(db, console.customer.id),
        invitation_form=InvitationIdForm(formdata=None)), status


@blueprint.get("/members")
def members():
    return members_page(administrator())


def _on_member(action):
    """Run ``action(actor, customer, membership id)`` for a member form."""
    console = administrator()
    form = MemberForm()
    if not form.validate_on_submit() and form.csrf_token.errors:
        flash(str(TOO_OLD), "refused")
        return None
    member_id = _member_id(form)
    if member_id is None:
        flash(str(administration.NO_SUCH_MEMBER.message), "refused")
        return None
    result = action(current_app, console.person.id, console.customer.id, member_id)
    report(result)
    return result


@blueprint.post("/members/<any(exclude, include):action>")
def exclusion(action: str):
    _on_member(lambda app, actor, customer, member: administration.set_exclusion(
        app, actor, customer, member, excluded=action == "exclude"))
    return redirect(url_for("console.members"), 303)


@blueprint.post("/members/promote")
def make_administrator():
    _on_member(administration.make_member_administrator)
    return redirect(url_for("console.members"), 303)


@blueprint.route("/members/remove", methods=["GET", "POST"])
def remove_member():
    console = administrator()
    if request.method == "POST":
        _on_member(administration.remove_member)
        return redirect(url_for("console.members"), 303)
    member_id = number_in(request.args.get("membership"))
    member = next((m for m in Directory(database.session()).members_of(console.customer)
                   if m.id == member_id), None)
    if member is None:
        flash(str(administration.NO_SUCH_MEMBER.message), "refused")
        return redirect(url_for("console.members"), 303)
    return render_template("console/remove_member.html", console=console, member=member,
                           form=ButtonForm())


@blueprint.post("/self-promotion")
def self_promotion():
    console = administrator()
    if not ButtonForm().validate_on_submit() or request.form.get("open") not in {"0", "1"}:
        flash(str(TOO_OLD), "refused")
    else:
        report(administration.set_self_promotion(current_app, console.person.id,
                                                 console.customer.id,
                                                 request.form["open"] == "1"))
    return redirect(url_for("console.members"), 303)


@blueprint.post("/second-factor")
def second_factor():
    console = administrator()
    if not ButtonForm().validate_on_submit() or request.form.get("required") not in {"0", "1"}:
        flash(str(TOO_OLD), "refused")
    else:
        report(administration.set_second_factor_required(
            current_app, console.person.id, console.customer.id,
            request.form["required"] == "1"))
    return redirect(url_for("console.members"), 303)


@blueprint.route("/step-down", methods=["GET", "POST"])
def step_down():
    console = administrator()
    form = ButtonForm()
    if request.method == "POST" and form.validate_on_submit():
        report(administration.step_down(current_app, console.person.id, console.customer.id))
        return redirect(url_for("console.home"), 303)
    last = count_administrators(database.session(), console.customer.id) <= 1
    return render_template("console/step_down.html", console=console, form=form, last=last,
                           expired=request.method == "POST"), 400 if request.method == "POST" \
        else 200


@blueprint.post("/hand-over")
def hand_over():
    console = administrator()
    form = MemberForm()
    member_id = _member_id(form) if form.validate_on_submit() else None
    if member_id is None:
        flash(str(TOO_OLD), "refused")
        return redirect(url_for("console.members"), 303)
    result = administration.hand_over(current_app, console.person.id, console.customer.id,
                                      member_id)
    report(result)
    return redirect(url_for("console.home" if result else "console.members"), 303)


@blueprint.get("/audit")
def audit():
    """The newest events of the customer, each a sentence (the names read in one query)."""
    console = administrator()
    db = database.session()
    query = select(AuditEvent).where(AuditEvent.customer_id == console.customer.id)
    before = number_in(request.args.get("before"))
    if before is not None:
        query = query.where(AuditEvent.id < before)
    events = db.scalars(query.order_by(AuditEvent.id.desc()).limit(AUDIT_PAGE + 1)).all()
    older = events[AUDIT_PAGE - 1].id if len(events) > AUDIT_PAGE else None
    events = events[:AUDIT_PAGE]
    said = audit_words.sentences(db, events, viewer_id=console.person.id)
    return render_template("console/audit.html", console=console, older=older,
                           events=list(zip(events, said, strict=True)))
