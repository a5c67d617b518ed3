"""Authlib grants, configured: each fills in what Authlib leaves open and
replaces the defaults that are too weak for us (docs/security.md, "Authlib
defaults Keyholder replaces")."""
