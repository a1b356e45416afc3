"""Alembic migrations, run programmatically (``voxgate migrate``)."""
