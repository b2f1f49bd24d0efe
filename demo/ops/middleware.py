"""Sign visitors in: the demo has no sign-up, and operations belong to their owner.

With ``DEBUG`` (``DEMO_DEBUG=1``, on your own machine) every visitor is the shared
superuser ``demo``, who also sees the admin. Without it, as on a network, each new
visitor gets a guest account of their own (no staff, no permissions, no password):
they see and control their own operations only, and nobody gets the admin. A guest
is made on the first page a visitor opens (not on the sign-in pages: a visitor who
signs in as a real user needs none); signing in replaces it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse

DEMO_USER = "demo"
GUEST_PREFIX = "guest-"
#: Paths where a visitor is not signed in by the demo: sign-in, admin, static files.
NOT_SIGNED_IN = ("/accounts/", "/admin/", "/static/")
BACKEND = "django.contrib.auth.backends.ModelBackend"


def shared_demo_user() -> AbstractBaseUser:
    user, created = get_user_model()._default_manager.get_or_create(
        username=DEMO_USER, defaults={"is_staff": True, "is_superuser": True}
    )
    if created:
        user.set_unusable_password()
        user.save()
    return user


def new_guest() -> AbstractBaseUser:
    manager = get_user_model()._default_manager
    while True:
        try:
            with transaction.atomic():
                user = manager.create(username=GUEST_PREFIX + secrets.token_hex(6))
        except IntegrityError:  # the name was taken: draw another
            continue
        user.set_unusable_password()
        user.save()
        return user


def demo_user(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[..., HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        if not request.user.is_authenticated:
            if settings.DEBUG:
                login(request, shared_demo_user(), backend=BACKEND)
            elif request.method in ("GET", "HEAD") and not request.path.startswith(NOT_SIGNED_IN):
                # Only on reads: signing in renews the CSRF token, which a POST's form
                # would then no longer match.
                login(request, new_guest(), backend=BACKEND)
        return get_response(request)

    return middleware
