"""The client package itself: the sync client is the generated twin of the async one, its
models are the server's reply models (the same classes), and importing it loads none of
the server's database, HTTP or service layers."""

from __future__ import annotations

import inspect
import subprocess
import sys

from conftest import REPO
from dayledger import client
from dayledger.channels import schemas as channel_schemas
from dayledger.client import models
from dayledger.partners import schemas as partner_schemas


def test_the_sync_client_is_generated_from_the_async_one():
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "unasync-client"), "--check"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr


def test_both_clients_have_the_same_methods():
    def methods(root) -> dict[str, list[str]]:
        found = {}
        for name, resource in vars(root(base_url="http://x", token="t")).items():
            if hasattr(resource, "_c"):
                found[name] = sorted(m for m, _ in inspect.getmembers(type(resource), inspect.isfunction)
                                     if not m.startswith("_"))
        return found
    sync, async_ = methods(client.Client), methods(client.AsyncClient)
    assert sync == async_ and len(sync) == 12 and sum(map(len, sync.values())) >= 60


def test_the_models_are_the_servers_reply_models():
    assert models.ChannelReply is channel_schemas.ChannelReply
    assert models.ExtendReply is channel_schemas.ExtendReply
    assert models.BulkExtendReply is channel_schemas.BulkExtendReply
    assert models.PartnerProfile is partner_schemas.PartnerProfile
    assert models.HistoryPage is partner_schemas.HistoryPage


def test_importing_the_client_loads_no_server_layer():
    """(The reply schemas import the ORM models and ``ledger.service``'s entry types, so
    SQLAlchemy is loaded; no engine, session, route or domain service is.)"""
    code = ("import sys, dayledger.client\n"
            "ours = [m for m in sys.modules if m.startswith('dayledger')]\n"
            "bad = sorted(m for m in ours if m in ('dayledger.db', 'dayledger.app', 'dayledger.context', "
            "'dayledger.worker') or m.startswith('dayledger.api') or m.endswith('.endpoints') "
            "or m.endswith('.service') and m != 'dayledger.ledger.service' or m.endswith('.tasks'))\n"
            "print(','.join(bad))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == ""


def test_every_method_is_called_by_the_tests():
    """Each public method of each resource appears as ``.resource.method(`` in these tests
    (the round trips against the server live in test_roundtrip.py and its neighbours)."""
    source = "".join(p.read_text() for p in (REPO / "tests" / "client").glob("test_*.py"))
    c = client.Client(base_url="http://x", token="t")
    missing = [f"{name}.{method}" for name, resource in vars(c).items() if hasattr(resource, "_c")
               for method, _ in inspect.getmembers(type(resource), inspect.isfunction)
               if not method.startswith("_") and f".{name}.{method}(" not in source]
    missing += [m for m in ("me", "partner_name") if f".{m}()" not in source]
    assert missing == []
