"""Auto-extend policies (SPEC 8): "when fewer than L days are left, extend by K days", per
channel or as a project's default, applied by the worker through the ledger's ordinary
extension; and the partner's runway (how long the balance lasts at the current burn)."""
