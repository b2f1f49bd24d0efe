"""Render {% liveop %} from an installed wheel (run by `make wheel-check` in a fresh venv).

Run from outside the repository so that ``liveops_htmx`` can only come from the
installed wheel; the test app is put on the path by the caller.
"""

from __future__ import annotations

import sys
from pathlib import Path

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="wheel-check",
    USE_TZ=True,
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "django.contrib.staticfiles",
        "django_htmx",
        # Django 6 has template partials built in; before it, the backport is an app.
        *(["template_partials"] if django.VERSION < (6, 0) else []),
        "liveops_htmx",
        "testapp",
    ],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}],
    CHANNEL_LAYERS={"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}},
    STATIC_URL="/static/",
    ROOT_URLCONF="__main__",
    ASGI_APPLICATION="x.asgi.application",
    DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
)
django.setup()

from django.contrib.auth.models import AnonymousUser, User  # noqa: E402
from django.contrib.staticfiles import finders  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.template import Context, Template  # noqa: E402
from django.urls import include, path  # noqa: E402
from django.utils import translation  # noqa: E402
from testapp.models import Report  # noqa: E402

import liveops_htmx  # noqa: E402

urlpatterns = [path("live/", include("liveops_htmx.urls"))]

where = Path(liveops_htmx.__file__).resolve()
assert "site-packages" in where.parts, f"liveops_htmx came from {where}, not the wheel"
call_command("migrate", verbosity=0)
call_command("check", fail_level="ERROR")
owner = User.objects.create_user("wheel")
op = Report.objects.create(title="from the wheel", owner=owner)
tag = Template("{% load liveops_htmx %}{% liveop op %}")
html = tag.render(Context({"op": op, "user": owner}))
assert f'id="op-status-{op.pk}"' in html, html
assert 'ws-connect="/asgi/notifications/?subscription_token=' in html, html
assert f'hx-post="/live/testapp.report/{op.pk}/cancel/"' in html, html
# Whoever may not control it sees no button.
assert "hx-post" not in tag.render(Context({"op": op, "user": AnonymousUser()}))
assert finders.find("liveops_htmx/liveops.css"), "liveops.css is not in the wheel"
# The compiled catalogs ship, and they are used: an operation renders in its language.
catalogs = sorted(p.parent.parent.name for p in where.parent.glob("locale/*/LC_MESSAGES/django.mo"))
assert len(catalogs) >= 8, f"the wheel ships the catalogs of {catalogs} only"
with translation.override("pl"):
    assert translation.gettext("Cancel") == "Anuluj", "the Polish catalog does not load"
op.language = "pl"
polish = tag.render(Context({"op": op, "user": owner}))
assert ">Anuluj</button>" in polish, polish
print(
    f"wheel ok: {where.parent} renders {{% liveop %}} ({len(html)} bytes),"
    f" catalogs {' '.join(catalogs)}"
)
sys.exit(0)
