"""Demo settings: the embedded default unless the environment asks for the scaled shape.

Embedded (``make demo``): SQLite, the in-memory channel layer, the thread runner, one
ASGI server process. Scaled (``make demo-redis``): ``DEMO_REDIS_URL`` switches to
channels_redis and ``DEMO_RUNNER=django_tasks`` runs operations in ``db_worker``.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
RUN_DIR = Path(os.environ.get("DEMO_RUN_DIR", BASE_DIR / ".run"))
RUN_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = os.environ.get("DEMO_SECRET_KEY", "demo-only-not-secret")
DEBUG = os.environ.get("DEMO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "django_tasks",
    "django_tasks_db",
    "liveops_htmx",
    "demo.ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "demo.ops.middleware.demo_user",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "demo.urls"
ASGI_APPLICATION = "demo.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DEMO_DB", str(RUN_DIR / "demo.sqlite3")),
        # WAL: readers (the server) never wait for the writer (a worker), and a commit
        # costs an append, not a journal rewrite.
        "OPTIONS": {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("DEMO_REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "liveops-demo"},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

LIVEOPS = {
    "HTMX_VERSION": int(os.environ.get("DEMO_HTMX", "2")),
    "RUNNER": os.environ.get("DEMO_RUNNER", "thread"),
    "BASE_TEMPLATE": "base.html",
    "LOST_AFTER": float(os.environ.get("DEMO_LOST_AFTER", "30")),
    # "auto" (WebSocket, then Server-Sent Events, then polling), "websocket", "sse", "poll".
    "TRANSPORT": os.environ.get("DEMO_TRANSPORT", "auto"),
    "POLL_INTERVAL": float(os.environ.get("DEMO_POLL_INTERVAL", "2")),
}

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French")), ("de", _("German"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/live/"
