"""The provider's HTML forms. Every one carries a CSRF token (Flask-WTF)."""

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField
from wtforms.validators import DataRequired, Length

from idp.i18n import _l


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=254)])
    # No maximum below the policy's 1,024: a long passphrase must not be cut.
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    next = HiddenField()


class DecisionForm(FlaskForm):
    """Consent and confirmation pages: the button pressed is the decision."""


class LogoutForm(FlaskForm):
    id_token_hint = HiddenField()
    post_logout_redirect_uri = HiddenField()
    state = HiddenField()
    client_id = HiddenField()
