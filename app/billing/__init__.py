"""Credits: the credit ledger (and, with Stripe, credit packs and orders)."""
