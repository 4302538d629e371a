"""API keys: created, listed, rotated and revoked on /account/keys."""
