"""Saved cards and auto-recharge: buy days off-session when the balance runs low."""
