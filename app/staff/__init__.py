"""The staff console: every page needs a signed-in staff member with two-factor authentication."""
