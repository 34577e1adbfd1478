"""Shared fixtures: personas, accounts and message helpers. Listener fixtures live in
tests/fixtures_*.py and are registered here so every test package can use them."""
from __future__ import annotations

import sys

import pytest

pytest_plugins: list[str] = ["tests.fixtures_dns", "tests.fixtures_smtp", "tests.fixtures_imap"]


@pytest.fixture
def domain(db):  # type: ignore[no-untyped-def]
    from accounts.actions import create_domain

    return create_domain("example.test", catchall_separator="+")


@pytest.fixture
def alice(domain):  # type: ignore[no-untyped-def]
    from accounts.actions import create_account

    return create_account("alice", "alice@example.test", "alicepassword")


@pytest.fixture
def bob(domain):  # type: ignore[no-untyped-def]
    from accounts.actions import create_account

    return create_account("bob", "bob@example.test", "bobpassword")


@pytest.fixture
def loop_thread():  # type: ignore[no-untyped-def]
    from tests.listeners import LoopThread

    lt = LoopThread()
    yield lt
    lt.stop()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):  # type: ignore[no-untyped-def]
    from tests.listeners import TLSFiles

    return TLSFiles(tmp_path_factory.mktemp("tls"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):  # type: ignore[no-untyped-def]
    """Appended messages are trained in the background (mailstore.junk.DeferredTraining):
    finish that inside the test that appended them, while its database is there."""
    yield
    junk = sys.modules.get("mailstore.junk")
    if junk is not None:
        assert junk.trainer.drain(30), "deferred junk training did not finish"
