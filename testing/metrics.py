"""Reading this process's metrics in a test: one sample's value, 0 before it was ever counted.

Metrics are process-wide and never reset, so tests compare a value before and after the thing
that should move it.
"""

from prometheus_client import REGISTRY


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0
