"""Tenants, their apps and credentials, and the rules each tenant's requests obey."""
