"""Customer voice files: decoded once to 8 kHz and stored by content hash."""
