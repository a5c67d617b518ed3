"""The console's forms; each carries a CSRF token (Flask-WTF)."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length


class BecomeAdministratorForm(FlaskForm):
    # Room for spaces, dots and dashes; longer input is refused without work.
    customer_number = StringField("Customer number",
                                  validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[Length(max=1024)])


class ButtonForm(FlaskForm):
    """A form that is only a button (and its CSRF token)."""


class MemberForm(FlaskForm):
    membership = HiddenField(validators=[DataRequired(), Length(max=12)])
