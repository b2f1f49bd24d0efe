"""Settings for the test suite.

SQLite by default, on files (threads of one test meet on the same database, and the
in-memory shared-cache database locks as soon as a worker thread writes while a
consumer reads). ``LIVEOPS_TEST_DATABASE_URL=postgres://user@host:port/name`` switches
every tier to PostgreSQL.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

import django

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "liveops-htmx-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = True
LANGUAGE_CODE = "en"

# Django 6 has template partials and the Tasks framework built in; before it, their
# backports are apps (django-tasks-db's backend then runs on the django_tasks one).
BACKPORT_APPS = ["template_partials", "django_tasks"] if django.VERSION < (6, 0) else []

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "django_htmx",
    *BACKPORT_APPS,
    "django_tasks_db",
    "liveops_htmx",
    "tests.testapp",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "tests.urls"
ASGI_APPLICATION = "tests.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]


def _database() -> dict[str, object]:
    url = os.environ.get("LIVEOPS_TEST_DATABASE_URL")
    # Processes started by a test (server, workers) use the test's own database.
    shared = os.environ.get("LIVEOPS_TEST_DB_NAME")
    if not url:
        run_dir = Path(os.environ.get("LIVEOPS_TEST_RUN_DIR", BASE_DIR / ".run"))
        run_dir.mkdir(parents=True, exist_ok=True)
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": shared or str(run_dir / f"db-{worker}.sqlite3"),
            "OPTIONS": {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"},
            "TEST": {"NAME": str(run_dir / f"test-{worker}.sqlite3")},
        }
    parsed = urlparse(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": shared or unquote(parsed.path.lstrip("/")) or "test",
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": parsed.hostname or "",
        "PORT": str(parsed.port or ""),
        "TEST": {"NAME": f"liveops_htmx_test_{os.getpid()}"},
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("LIVEOPS_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
REDIS_PREFIX = os.environ.get("LIVEOPS_TEST_REDIS_PREFIX", "liveops-test")
_LAYERS = {
    "memory": {"BACKEND": "channels.layers.InMemoryChannelLayer"},
    "redis": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "socket_timeout": 10}],
            "prefix": REDIS_PREFIX,
        },
    },
    "pubsub": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": REDIS_PREFIX},
    },
}
CHANNEL_LAYERS = {"default": _LAYERS[os.environ.get("LIVEOPS_TEST_LAYER", "memory")]}

# Celery (tier 3): the broker is the test Redis, under the test's key prefix.
CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": f"{REDIS_PREFIX}:celery:"}
CELERY_TASK_IGNORE_RESULT = True

# Django Tasks (tier 3): the database backend, run by django-tasks-db's db_worker.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

STATIC_URL = "/static/"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LIVEOPS: dict[str, object] = {
    key: float(value)
    for key, value in (
        ("LOST_AFTER", os.environ.get("LIVEOPS_TEST_LOST_AFTER")),
        ("WATCHDOG_INTERVAL", os.environ.get("LIVEOPS_TEST_WATCHDOG")),
    )
    if value
}
# Servers close a finished operation's socket at once: test clients are no pages that
# close it themselves. The grace has tests of its own (test_closing).
LIVEOPS["CLOSE_GRACE"] = float(os.environ.get("LIVEOPS_TEST_CLOSE_GRACE", "0"))
if os.environ.get("LIVEOPS_TEST_RUNNER"):
    LIVEOPS["RUNNER"] = os.environ["LIVEOPS_TEST_RUNNER"]
