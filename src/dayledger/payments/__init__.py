"""Money that becomes days: pricing, the Stripe client, the Stripe webhook and the
records every payment road shares (top-ups, auto-recharge, invoices, subscriptions)."""
