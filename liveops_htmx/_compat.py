"""Django- and Python-version differences, in one place."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import Any, TypeVar

import django
from django.template import Library

T = TypeVar("T")

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


async def within(awaitable: Awaitable[T], seconds: float) -> T:
    """``await awaitable``, bounded to ``seconds`` (raises ``TimeoutError``)."""
    # Before Python 3.12, wait_for wraps the awaitable in a task of its own: a loop
    # turn more per call. asyncio.timeout (3.11) does not.
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            return await awaitable
    return await asyncio.wait_for(awaitable, seconds)  # pragma: no cover - Python 3.10
