"""The relying services (self-care portal, usage API, TV, Cloud, OneDrive,
Foot 11, the app): OIDC clients of the provider that trust its claims and
never read its database."""
