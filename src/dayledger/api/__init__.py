"""HTTP glue for the JSON API only: body handling, the error shape, auth, paging, idempotency, CSV."""
