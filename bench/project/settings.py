"""Settings of the bench project: one module, shaped by ``BENCH_*`` environment variables.

``BENCH_SYSTEM`` picks what the server and the worker run:

- ``htmx``: liveops-htmx (this repository), its consumer and ``WebProgress``;
- ``relay``: a bare Channels relay (``bench.project.relay``);
- ``djl``: django-liveops 0.4.1 from PyPI, wired as its example project is;
- ``celery``: celery-progress 0.5 from PyPI, polled over HTTP.

``BENCH_LAYER`` is ``redis`` (``RedisChannelLayer``) or ``pubsub``
(``RedisPubSubChannelLayer``); ``BENCH_REDIS_URL`` and ``BENCH_PREFIX`` say where, and
``BENCH_DB`` names the SQLite file (in bench/out/). ``BENCH_REDIS_URLS`` (comma-separated)
shards the channel layer over several Redis servers, one ``hosts`` entry each.
"""

from __future__ import annotations

import os
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
BENCH_SYSTEM = os.environ.get("BENCH_SYSTEM", "htmx")
BENCH_LAYER = os.environ.get("BENCH_LAYER", "redis")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
REDIS_PREFIX = os.environ.get("BENCH_PREFIX", "liveops-bench")

SECRET_KEY = "liveops-htmx-bench-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = True
LANGUAGE_CODE = "en"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_SYSTEM_APPS = {
    "htmx": ["django_htmx", "template_partials", "liveops_htmx", "bench.project.htmxapp"],
    "relay": [],
    "djl": ["channels_broadcast", "liveops", "bench.project.djlapp"],
    "celery": ["celery_progress"],
}
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    *_SYSTEM_APPS[BENCH_SYSTEM],
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "bench.project.urls"
ASGI_APPLICATION = "bench.project.asgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

# SQLite in WAL mode: the worker writes while the server reads snapshots.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("BENCH_DB", str(BENCH_DIR / "out" / f"{BENCH_SYSTEM}.sqlite3")),
        "OPTIONS": {
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}

_BACKENDS = {
    "redis": "channels_redis.core.RedisChannelLayer",
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
}
# redis-py 8 gives sockets a 5 s timeout, the very time channels_redis's RedisChannelLayer
# blocks in BZPOPMIN: an idle receive would fail every 5 s (and kill a plain consumer).
# redis-py 8 also caps an asyncio pool at 100 connections and fails past that: a connect
# storm of plain consumers (one group_add each) exhausts it. Both are raised, for everyone.
_HOSTS: list[dict[str, object]] = [
    {"address": url} for url in os.environ.get("BENCH_REDIS_URLS", REDIS_URL).split(",")
]
if BENCH_LAYER == "redis":
    for _host in _HOSTS:
        _host.update(socket_timeout=10, max_connections=2000)
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": _BACKENDS[BENCH_LAYER],
        "CONFIG": {"hosts": _HOSTS, "prefix": REDIS_PREFIX},
    }
}
# For A/B runs only (the bench measures channels_redis's defaults): a channel's capacity.
if os.environ.get("BENCH_CAPACITY") and BENCH_LAYER == "redis":
    CHANNEL_LAYERS["default"]["CONFIG"]["capacity"] = int(os.environ["BENCH_CAPACITY"])
# ... or the kit's inboxes only, as its check W010 asks of a deployment (over several
# hosts they have the layer's own names, raised for the kit's servers alone).
if os.environ.get("BENCH_INBOX_CAPACITY") and BENCH_LAYER == "redis" and BENCH_SYSTEM == "htmx":
    _inboxes = "liveops.inbox.*" if len(_HOSTS) == 1 else "specific.*"
    CHANNEL_LAYERS["default"]["CONFIG"]["channel_capacity"] = {
        _inboxes: int(os.environ["BENCH_INBOX_CAPACITY"])
    }

# liveops-htmx: its defaults, but for the per-visitor socket limit: the bench's
# viewers are one anonymous client address, a thousand sockets at a time.
LIVEOPS: dict[str, object] = {"SOCKETS_PER_USER": None}
# For A/B runs only: how many inbox channels a server process receives on.
if os.environ.get("BENCH_INBOX_CHANNELS"):
    LIVEOPS["INBOX_CHANNELS"] = int(os.environ["BENCH_INBOX_CHANNELS"])

# django-liveops and channels_broadcast: defaults, as in its example project.
if BENCH_SYSTEM == "djl":
    LIVEOPS = {"RUNNER": "eager", "THROTTLE_HZ": 10}

# celery-progress: results in Redis, under the bench's key prefix.
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_RESULT_PREFIX = f"{REDIS_PREFIX}:celery:"

# channels_redis says at INFO when a group_send found channels over capacity (the
# message is dropped for them): into the process's log in bench/out/run/.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"channels_redis": {"handlers": ["stderr"], "level": "INFO"}},
}
