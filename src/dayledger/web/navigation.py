"""The menus of the dashboard and the console (href, label), first entry the start page."""

from __future__ import annotations

PARTNER_NAV = [("/dashboard/", "Overview"), ("/dashboard/channels", "Channels"), ("/dashboard/history", "History"),
               ("/dashboard/topup", "Top up"), ("/dashboard/invoices", "Invoices"),
               ("/dashboard/automation", "Automation"), ("/dashboard/webhooks", "Webhooks"),
               ("/dashboard/tokens", "API tokens"), ("/dashboard/users", "Users"), ("/dashboard/settings", "Settings")]
OPERATOR_NAV = [("/console/", "Partners"), ("/console/invoices", "Invoices"), ("/console/events", "Events"),
                ("/console/users", "Users")]


def nav_for(kind: str) -> list[tuple[str, str]]:
    return OPERATOR_NAV if kind == "operator" else PARTNER_NAV
