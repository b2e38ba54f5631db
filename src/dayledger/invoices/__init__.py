"""Invoices by channel count: N channels are N x 30 days."""
