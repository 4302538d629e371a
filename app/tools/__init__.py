"""Checks anyone can run with the project's own tools (``python -m app.tools.<name>``)."""
