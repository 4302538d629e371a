"""Versioned legal documents (privacy policy, cookie policy, terms), their history, and notices of
significant changes."""
