"""The console's pages for administrators: the members and their roles,
exclusions, self-promotion, stepping down, handing over, the audit trail.
Everything is scoped to the customer shown in the console; ids in forms are
checked to belong to it ("Scoped to the customer shown", docs/security.md)."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for

from admin_console import administration, context
from admin_console.blueprint import blueprint
from admin_console.forms import ButtonForm, MemberForm
from idp.directory.locks import count_administrators
from idp.directory.services import Directory
from idp.infrastructure import database


def _administrator():
    console = context.load()
    if not console.is_administrator:
        abort(403, "Only an administrator of this customer number can see this page.")
    return console


def _report(result) -> None:
    flash(result.message, "done" if result else "refused")


def _member_id(form: MemberForm) -> int | None:
    raw = form.membership.data or ""
    return int(raw) if raw.isascii() and raw.isdigit() else None


@blueprint.get("/members")
def members():
    console = _administrator()
    directory = Directory(database.session())
    return render_template("console/members.html", console=console, form=ButtonForm(),
                           members=directory.members_of(console.customer))


@blueprint.post("/members/<any(exclude, include):action>")
def exclusion(action: str):
    console = _administrator()
    form = MemberForm()
    member_id = _member_id(form) if form.validate_on_submit() else None
    if member_id is None:
        flash("This page was open too long. Nothing was changed; please try again.", "refused")
    else:
        _report(administration.set_exclusion(current_app, console.person.id,
                                             console.customer.id, member_id,
                                             excluded=action == "exclude"))
    return redirect(url_for("console.members"), 303)


@blueprint.post("/self-promotion")
def self_promotion():
    console = _administrator()
    if not ButtonForm().validate_on_submit() or request.form.get("open") not in {"0", "1"}:
        flash("This page was open too long. Nothing was changed; please try again.", "refused")
    else:
        _report(administration.set_self_promotion(current_app, console.person.id,
                                                  console.customer.id,
                                                  request.form["open"] == "1"))
    return redirect(url_for("console.members"), 303)


@blueprint.route("/step-down", methods=["GET", "POST"])
def step_down():
    console = _administrator()
    form = ButtonForm()
    if request.method == "POST" and form.validate_on_submit():
        _report(administration.step_down(current_app, console.person.id, console.customer.id))
        return redirect(url_for("console.home"), 303)
    last = count_administrators(database.session(), console.customer.id) <= 1
    return render_template("console/step_down.html", console=console, form=form, last=last,
                           expired=request.method == "POST"), 400 if request.method == "POST" \
        else 200


@blueprint.post("/hand-over")
def hand_over():
    console = _administrator()
    form = MemberForm()
    member_id = _member_id(form) if form.validate_on_submit() else None
    if member_id is None:
        flash("This page was open too long. Nothing was changed; please try again.", "refused")
        return redirect(url_for("console.members"), 303)
    result = administration.hand_over(current_app, console.person.id, console.customer.id,
                                      member_id)
    _report(result)
    return redirect(url_for("console.home" if result else "console.members"), 303)


@blueprint.get("/audit")
def audit():
    console = _administrator()
    db = database.session()
    directory = Directory(db)
    events = list(reversed(directory.audit_trail(console.customer)))
    people = {m.person_id: m.person for m in directory.members_of(console.customer)}
    return render_template("console/audit.html", console=console, events=events, people=people)
