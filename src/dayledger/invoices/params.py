"""Path and query parameters of the invoice routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from ..ids import PARTNER_NAME_PATTERN
from .schemas import INVOICE_STATUSES, PERIOD_PATTERN

InvoiceID = Annotated[str, Path(alias="InvoiceID", pattern=r"^inv_[A-Za-z0-9]{20}$", description="Invoice ID")]
InvoiceStatus = Annotated[str | None, Query(pattern="^(" + "|".join(INVOICE_STATUSES) + ")$",
                                            description="only invoices in this status")]
PeriodFilter = Annotated[str | None, Query(alias="period", pattern=PERIOD_PATTERN,
                                           description="only invoices generated for this period, YYYY-MM")]
PartnerFilter = Annotated[str | None, Query(alias="partner", pattern=PARTNER_NAME_PATTERN, max_length=64,
                                            description="only this partner's invoices")]
