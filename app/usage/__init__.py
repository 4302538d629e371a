"""API usage: the call log, daily roll-ups, the usage page and CSV exports."""
