"""Native API v1 routes."""
