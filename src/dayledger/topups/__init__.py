"""Self-service top-ups through Stripe Checkout."""
