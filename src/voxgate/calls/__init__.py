"""The call domain: call scripts, accepting calls, call state. No HTTP, no SQL dialect."""
