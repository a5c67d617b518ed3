"""OAuth clients: registration, secrets, and how each client type may authenticate."""
