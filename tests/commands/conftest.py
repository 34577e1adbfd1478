from __future__ import annotations

import pytest


@pytest.fixture
def charlie_factory(domain):  # type: ignore[no-untyped-def]
    """Make further accounts on example.test: charlie_factory("c1") -> account c1."""
    from accounts.actions import create_account

    def make(name: str):  # type: ignore[no-untyped-def]
        return create_account(name, f"{name}@example.test", f"{name}password")

    return make


@pytest.fixture(autouse=True)
def own_data_dir(settings, tmp_path):  # type: ignore[no-untyped-def]
    """Each command test gets its own data directory, so message files of other tests
    (whose rows were rolled back) do not show up."""
    data = tmp_path / "data"
    data.mkdir()
    settings.DATA_DIR = data
    return data
