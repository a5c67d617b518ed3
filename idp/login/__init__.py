"""Logging in: the login page, the single sign-on session, throttling."""
