"""Credits and payments: the credit ledger, credit packs bought through Stripe Checkout, orders."""
