"""Public pages: home, pricing, language choice, health check and security.txt."""
