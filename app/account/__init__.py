"""The customer's account area: the overview, the profile, and the security pages (activity,
sessions, two-factor authentication). Signing in, registration and resets stay in ``app.auth``."""
