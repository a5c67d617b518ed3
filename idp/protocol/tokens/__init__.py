"""Authorization codes, token families, refresh tokens and revocations."""
