"""The privacy centre: data export, account closure and erasure (the rights of GDPR Art. 15-17)."""
