"""Per-channel subscriptions: each paid period extends one channel."""
