"""Credentials: hashing, encryption at rest, token minting."""
