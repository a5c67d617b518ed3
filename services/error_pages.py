"""The services' own error pages (400, 403, 404, 405, 500): in the person's
language, with the shared header, the status kept, and the code for the
helpdesk; never the framework's page or a stack trace."""

from __future__ import annotations

from flask import Flask, render_template
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException


def _words(code: int) -> tuple[str, str]:
    if code == 404:
        return (_("This page does not exist"),
                _("The address may be mistyped, or the page has moved. The start page leads "
                  "to everything this service offers."))
    if code == 403:
        return (_("You may not open this page"),
                _("This page is not for your account. Nothing was changed."))
    if code == 405:
        return (_("This page cannot be used this way"),
                _("The page was asked for in a way it does not answer. Nothing was changed: "
                  "please go back and use the page's links and buttons."))
    if code == 400:
        return (_("This request could not be understood"),
                _("Something in the address or in the form was not right. Nothing was "
                  "changed: please go back and try again."))
    return (_("Something went wrong on our side"),
            _("Nothing is lost, but we could not finish this. Please try again in a few "
              "minutes; if it keeps happening, our helpdesk can help."))


def install(app: Flask, template: str, **context) -> None:
    """Answer those errors with ``template`` (title, text, code; ``context``
    for the page's base)."""

    def page(error: HTTPException):
        code = error.code if isinstance(error, HTTPException) and error.code else 500
        title, text = _words(code)
        response = app.make_response((render_template(template, title=title, text=text,
                                                      code=code, **context), code))
        allowed = getattr(error, "valid_methods", None)
        if code == 405 and allowed:
            response.headers["Allow"] = ", ".join(allowed)
        return response

    for code in (400, 403, 404, 405, 500):
        app.register_error_handler(code, page)


__all__ = ["install"]
