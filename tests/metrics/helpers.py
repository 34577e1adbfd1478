"""Reading the default registry: counters are process-wide, so tests assert deltas."""
from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import REGISTRY


def value(name: str, **labels: str) -> float:
    """The sample's value, 0 when it has not been created yet."""
    v = REGISTRY.get_sample_value(name, labels)
    return 0.0 if v is None else v


def wait_for(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll until a listener thread has caught up (e.g. noticed a closed connection)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return check()
