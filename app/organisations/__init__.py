"""Organisations: the teams that own the money and the API (balance, ledger, orders, invoices,
billing details, spend limit and alerts, keys, usage, call log), their members and roles."""
