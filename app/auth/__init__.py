"""Accounts: registration, e-mail verification, sign-in, sessions, password reset, second factors
(the account pages themselves are in app.account)."""
