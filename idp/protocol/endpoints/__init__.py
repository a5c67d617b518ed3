"""Authlib endpoints, configured (introspection, revocation, UserInfo, end session)."""
