"""Consumers of the durable call-job queue: media preparation before the dialler."""
