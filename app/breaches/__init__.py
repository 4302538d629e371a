"""The personal-data breach register (GDPR Art. 33-34): staff record, assess and notify."""
