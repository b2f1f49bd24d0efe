"""Which models are live operations, and the model a label names."""

from __future__ import annotations

from django.apps import apps

from liveops_htmx.models import LiveOperation


def operation_models() -> list[type[LiveOperation]]:
    """Every concrete, non-proxy operation model of the project."""
    return [m for m in apps.get_models() if issubclass(m, LiveOperation) and not m._meta.proxy]


def model_for(label: str) -> type[LiveOperation]:
    """The operation model ``label`` ("app_label.ModelName", any case) names.

    Raises ``LookupError`` for anything else: a label from a URL or a token is input.
    """
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        raise LookupError(f"No operation model {label!r}.") from None
    if not issubclass(model, LiveOperation) or model._meta.abstract:
        raise LookupError(f"{label} is not an operation model.")
    return model
