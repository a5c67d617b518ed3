"""A lazily translated text is escaped like any text on a page (Flask-Babel's
own ``LazyString`` claims to be safe HTML, so a person's name inside one
would reach the page unescaped)."""

from flask import Flask, render_template_string

from idp import i18n
from idp.i18n import _l


def test_a_name_in_a_lazy_text_is_escaped():
    app = Flask(__name__)
    i18n.init_app(app, packages=[], choose=lambda: None, time_zone="Europe/Brussels")
    with app.app_context():
        text = _l("Hello %(name)s", name="<script>alert(1)</script>")
        page = render_template_string("<p>{{ text }}</p>", text=text)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert str(text) == "Hello <script>alert(1)</script>"  # the text itself is unchanged
