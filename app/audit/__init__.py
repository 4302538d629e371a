"""The append-only audit log of staff actions and staff reads of customers' personal data."""
