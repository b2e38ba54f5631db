"""HTTP glue for the JSON API only: the error shape, the route class (JSON bodies, token
before body), one transaction per request with idempotency, paging and CSV streaming."""

from .csv import CSV_REPLY, csv_response, rows_in_batches
from .errors import ERROR_RESPONSES, error_responses, install_error_handlers, json_response
from .handling import ApiRoute, authorized, handle, idempotency_key, services
from .paging import HistoryFilter, Paging, PagingParams
from ..replies import Reply, Success

__all__ = ["ApiRoute", "CSV_REPLY", "ERROR_RESPONSES", "HistoryFilter", "Paging", "Reply", "Success",
           "authorized", "csv_response", "error_responses", "handle", "idempotency_key", "install_error_handlers",
           "json_response", "PagingParams", "rows_in_batches", "services"]
