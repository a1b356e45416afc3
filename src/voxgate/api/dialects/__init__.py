"""Vendor dialects: thin adapters that parse a vendor's request and answer in its envelope."""
