"""Django-version differences, in one place."""

from __future__ import annotations

from typing import Any

import django
from django.template import Library

#: Django 6.0 ships template partials; before it, django-template-partials provides them.
BUILTIN_PARTIALS = django.VERSION >= (6, 0)
PARTIALS_APP = "template_partials"


def register_partial_tags(register: Library) -> None:
    """Make ``{% partialdef %}`` and ``{% partial %}`` loadable with our library on Django < 6."""
    if BUILTIN_PARTIALS:
        return
    from template_partials.templatetags import partials

    register.tag("partialdef", partials.partialdef_func)
    register.tag("partial", partials.partial_func)


def tasks_module() -> Any:
    """Django's Tasks framework: built in from 6.0, the django-tasks backport before."""
    from importlib import import_module

    return import_module("django.tasks" if django.VERSION >= (6, 0) else "django_tasks")
