"""Error pages: HTML in the visitor's language, ``application/problem+json`` under ``/api/``."""
