"""Authlib grants, configured: each fills in what Authlib leaves open and
replaces the defaults that SECURITY §0 calls too weak."""
