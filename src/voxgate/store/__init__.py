"""All SQL lives here: schema, migrations and repositories."""
