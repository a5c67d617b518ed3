"""The console's forms; each carries a CSRF token (Flask-WTF)."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from idp.account.links import MAX_SECRET
from idp.directory.contacts import EMAIL_MAX, NAME_MAX
from idp.i18n import _l
from idp.infrastructure.passwords import MAX_LENGTH


class BecomeAdministratorForm(FlaskForm):
    # Room for spaces, dots and dashes; longer input is refused without work.
    customer_number = StringField(_l("Customer number"),
                                  validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[Length(max=1024)])


class ButtonForm(FlaskForm):
    """A form that is only a button (and its CSRF token)."""


class MemberForm(FlaskForm):
    membership = HiddenField(validators=[DataRequired(), Length(max=12)])


class InvitationIdForm(FlaskForm):
    invitation = HiddenField(validators=[DataRequired(), Length(max=12)])


class InviteForm(FlaskForm):
    email = StringField(_l("E-mail address"), validators=[DataRequired(), Length(max=EMAIL_MAX)])
    # Room for spaces, dots, dashes and parentheses around the 15 digits of E.164.
    mobile = StringField(_l("Own mobile (optional)"), validators=[Length(max=32)])


class InvitationForm(FlaskForm):
    """Accepting an invitation: the link's secret travels in the form's body."""

    token = HiddenField(validators=[DataRequired(), Length(max=MAX_SECRET)])


class NewMemberForm(InvitationForm):
    """Accepting an invitation without a login yet: a name and a password."""

    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=NAME_MAX)])
    # No maximum below the policy's: a long passphrase must not be cut.
    password = PasswordField(_l("Choose a password"),
                             validators=[DataRequired(), Length(max=MAX_LENGTH)])
    again = PasswordField(_l("The password again"),
                          validators=[DataRequired(), Length(max=MAX_LENGTH)])
