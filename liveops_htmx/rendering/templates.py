"""Finding an operation's partials: the model's own template first, the bundled one after."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.template import TemplateDoesNotExist
from django.template.loader import get_template

if TYPE_CHECKING:
    from liveops_htmx.models import LiveOperation

DEFAULT_TEMPLATE = "liveops_htmx/liveop.html"

#: (model label, part) -> its template; filled only outside DEBUG, where templates change.
_resolved: dict[tuple[str, str], Any] = {}


def template_names(op: LiveOperation, name: str) -> list[str]:
    """Where partial ``name`` of ``op`` may live, in the order they are tried."""
    opts = op._meta
    own = getattr(op, "liveop_template", None) or f"{opts.app_label}/{opts.model_name}_liveop.html"
    return [f"{own}#{name}", f"{DEFAULT_TEMPLATE}#{name}"]


def partial(op: LiveOperation, name: str) -> Any:
    """The template of partial ``name`` for ``op``'s model."""
    key = (op._meta.label, name)
    cached = _resolved.get(key)
    if cached is not None:
        return cached
    for candidate in template_names(op, name):
        try:
            template = get_template(candidate)
        except TemplateDoesNotExist:
            continue
        if not settings.DEBUG:
            _resolved[key] = template
        return template
    raise TemplateDoesNotExist(", ".join(template_names(op, name)))


def clear_cache(**kwargs: Any) -> None:
    """Forget resolved template names (connected to ``setting_changed``)."""
    _resolved.clear()
