"""``keyholder member set-role``: the operator's correction, through the same
transaction, rules, audit and e-mails as the console."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from admin_console.administration import set_role_by_operator
from claims.customer_numbers import InvalidCustomerNumber
from claims.vocabulary import Role
from idp.directory.errors import DirectoryError


@click.command("set-role")
@click.argument("email")
@click.option("--customer", "customer_number", required=True, help="Customer number.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@with_appcontext
def set_role_command(email: str, customer_number: str, role: str) -> None:
    """Set a member's role (audited; the administrators are told by e-mail)."""
    try:
        result = set_role_by_operator(current_app, email, customer_number, Role(role))
    except (DirectoryError, InvalidCustomerNumber) as error:
        raise click.ClickException(error.reason) from None
    if not result:
        raise click.ClickException(result.message)
    if hasattr(result, "told"):
        told = ", ".join(result.told) or "nobody else"
        click.echo(f"{email} is now administrator of {result.customer_number}; told: {told}.")
    else:
        click.echo(result.message)
