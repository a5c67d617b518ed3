"""The console's blueprint, shared by the pages for everyone
(:mod:`admin_console.views`) and those for administrators
(:mod:`admin_console.administrators_views`)."""

from __future__ import annotations

from flask import Blueprint, render_template

from admin_console import context

blueprint = Blueprint("console", __name__, url_prefix="/console",
                      template_folder="templates")
blueprint.before_request(context.guard)


@blueprint.errorhandler(403)
def forbidden(error):
    return render_template("console/refused.html", message=error.description), 403
