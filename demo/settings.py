"""Demo settings: the embedded default unless the environment asks for the scaled shape.

Embedded (``make demo``): SQLite, the in-memory channel layer, the thread runner, one
ASGI server process. Scaled (``make demo-redis``): ``DEMO_REDIS_URL`` switches to
channels_redis and ``DEMO_RUNNER=django_tasks`` runs operations in ``db_worker``.

Safe to put on a network as it is: ``SECRET_KEY`` is made per checkout in the run
folder (``DEMO_SECRET_KEY`` overrides it), ``DEBUG`` is off unless ``DEMO_DEBUG=1``,
and ``DEMO_ALLOWED_HOSTS`` (comma-separated) adds host names. Without ``DEBUG`` each
visitor is signed in as a guest account of their own (``demo.ops.middleware``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import django
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
RUN_DIR = Path(os.environ.get("DEMO_RUN_DIR", BASE_DIR / ".run"))
RUN_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)


def _secret_key(run_dir: Path) -> str:
    """This checkout's own key: made on the first start (mode 0600), read after.

    A key in the source would let anyone who reads it sign subscription tokens and
    sessions for every deployed copy of the demo.
    """
    from django.core.management.utils import get_random_secret_key

    path = run_dir / "secret_key"
    try:  # only the first process to start creates it (a server and its worker may race)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        key = get_random_secret_key()
        with os.fdopen(fd, "w") as out:
            out.write(key + "\n")
        return key
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    for _attempt in range(200):  # the process that created it may still be writing
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.01)
    raise RuntimeError(f"{path} is empty: delete it, and a new key is made at the next start.")


SECRET_KEY = os.environ.get("DEMO_SECRET_KEY") or _secret_key(RUN_DIR)
# Off unless asked for: with DEBUG, every visitor would see tracebacks and settings.
DEBUG = os.environ.get("DEMO_DEBUG", "") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
ALLOWED_HOSTS += [h for h in os.environ.get("DEMO_ALLOWED_HOSTS", "").split(",") if h]

# Django 6 has template partials and the Tasks framework built in; before it, their
# backports are apps (django-tasks-db's backend then runs on the django_tasks one).
BACKPORT_APPS = ["template_partials", "django_tasks"] if django.VERSION < (6, 0) else []

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    *BACKPORT_APPS,
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

# DEMO_HTMX: "2" or "4" load django-htmx's bundled copies; "4-release" loads htmx 4 as
# released on npm, from build/htmx-release (`make htmx-release` fetches it).
DEMO_HTMX = os.environ.get("DEMO_HTMX", "2")
HTMX_RELEASE = DEMO_HTMX == "4-release"

LIVEOPS = {
    "HTMX_VERSION": 4 if HTMX_RELEASE else int(DEMO_HTMX),
    "RUNNER": os.environ.get("DEMO_RUNNER", "thread"),
    "BASE_TEMPLATE": "base.html",
    "LOST_AFTER": float(os.environ.get("DEMO_LOST_AFTER", "30")),
    # "auto" (WebSocket, then Server-Sent Events, then polling), "websocket", "sse", "poll".
    "TRANSPORT": os.environ.get("DEMO_TRANSPORT", "auto"),
    "POLL_INTERVAL": float(os.environ.get("DEMO_POLL_INTERVAL", "2")),
}

LANGUAGE_CODE = "en"
# Every catalog the kit and the demo ship (liveops_htmx/locale, demo/locale), and English;
# LocaleMiddleware picks among these. tests/test_translations.py keeps them in step.
LANGUAGES = [
    ("en", _("English")),
    ("fr", _("French")),
    ("de", _("German")),
    ("es", _("Spanish")),
    ("it", _("Italian")),
    ("nl", _("Dutch")),
    ("pl", _("Polish")),
    ("pt-br", _("Brazilian Portuguese")),
    ("ja", _("Japanese")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"

if not DEBUG:
    # Django prints request errors to the console only with DEBUG: keep them visible.
    LOGGING = {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"stderr": {"class": "logging.StreamHandler"}},
        "root": {"handlers": ["stderr"], "level": "WARNING"},
    }

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
if HTMX_RELEASE:
    from django.core.exceptions import ImproperlyConfigured

    from demo import htmx_release

    problem = htmx_release.missing()
    if problem is not None:
        raise ImproperlyConfigured(f"DEMO_HTMX=4-release: {problem}")
    STATICFILES_DIRS.append(("htmx.org", htmx_release.PACKAGE_DIR))
    LIVEOPS["HTMX_SCRIPTS"] = list(htmx_release.SCRIPTS)
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/live/"
