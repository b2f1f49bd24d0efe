"""System checks: what a project can get wrong, caught at start-up."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.template import TemplateDoesNotExist, TemplateSyntaxError
from django.template.loader import get_template

from liveops_htmx._compat import BUILTIN_PARTIALS, PARTIALS_APP
from liveops_htmx.conf import DEFAULTS, SCRIPT_URL_PREFIXES, TRANSPORTS, conf
from liveops_htmx.layer import hosts_of


@register()
def check_channel_layer(**kwargs: Any) -> list[CheckMessage]:
    layers = getattr(settings, "CHANNEL_LAYERS", None) or {}
    if conf.CHANNEL_LAYER in layers:
        return []
    return [
        Error(
            f"No channel layer {conf.CHANNEL_LAYER!r} is configured.",
            hint=(
                "Add it to CHANNEL_LAYERS, e.g. {'default': {'BACKEND': "
                "'channels.layers.InMemoryChannelLayer'}} for one process, or "
                "channels_redis for several; or point LIVEOPS['CHANNEL_LAYER'] at one."
            ),
            id="liveops_htmx.E001",
        )
    ]


@register()
def check_partials(**kwargs: Any) -> list[CheckMessage]:
    if not BUILTIN_PARTIALS and not apps.is_installed(PARTIALS_APP):
        return [
            Error(
                "Template partials are not available.",
                hint=f"Add {PARTIALS_APP!r} to INSTALLED_APPS (Django 6 has them built in).",
                id="liveops_htmx.E002",
            )
        ]
    # Built in or not, the bundled templates must load with their partials.
    try:
        get_template("liveops_htmx/liveop.html#status")
    except (TemplateDoesNotExist, TemplateSyntaxError) as exc:
        hint = "Keep APP_DIRS (or the app directories loader) on the Django template engine"
        if not BUILTIN_PARTIALS:
            hint += f", and let {PARTIALS_APP}'s loader wrap your loaders"
        return [
            Error(
                f"The liveops_htmx partials cannot be loaded: {exc}",
                hint=f"{hint}.",
                id="liveops_htmx.E002",
            )
        ]
    return []


#: Settings of earlier versions, and what became of them.
REMOVED = {
    "FAST_REDIS": "The kit talks to every channel layer through its public API only; "
    "remove the setting.",
}


def _positive(name: str, value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


@register()
def check_settings(**kwargs: Any) -> list[CheckMessage]:
    user = getattr(settings, "LIVEOPS", None) or {}
    if not isinstance(user, dict):
        return [
            Error(
                "LIVEOPS must be a dict.",
                hint="See the settings table in the README.",
                id="liveops_htmx.E003",
            )
        ]
    return [
        *_check_names(user),
        *_check_htmx(user),
        *_check_numbers(user),
        *_check_transport(user),
    ]


def _check_names(user: dict[str, Any]) -> list[CheckMessage]:
    """Settings that no longer exist, or never did."""
    messages: list[CheckMessage] = []
    for name in sorted(set(user) & set(REMOVED)):
        messages.append(
            Warning(
                f"LIVEOPS[{name!r}] no longer exists and is ignored.",
                hint=REMOVED[name],
                id="liveops_htmx.W009",
            )
        )
    unknown = sorted(set(user) - set(DEFAULTS) - set(REMOVED))
    if unknown:
        messages.append(
            Warning(
                f"Unknown LIVEOPS settings: {', '.join(unknown)}.",
                hint=f"Known settings: {', '.join(sorted(DEFAULTS))}.",
                id="liveops_htmx.W001",
            )
        )
    return messages


def _check_htmx(user: dict[str, Any]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    if user.get("HTMX_VERSION", DEFAULTS["HTMX_VERSION"]) not in (2, 4):
        messages.append(
            Error(
                "LIVEOPS['HTMX_VERSION'] must be 2 or 4.",
                hint="Use the major version of the htmx that {% liveops_scripts %} (or your "
                "own script tags) load.",
                id="liveops_htmx.E004",
            )
        )
    if user.get("HTMX_SCRIPTS") is not None:
        messages += _check_htmx_scripts(user["HTMX_SCRIPTS"])
    return messages


def _check_numbers(user: dict[str, Any]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    numbers = (
        "TOKEN_MAX_AGE",
        "LOG_TAIL",
        "TEXT_MAX",
        "PUBLISH_TIMEOUT",
        "PUBLISH_QUEUE_MAX",
        "CLIENT_FRAME_MAX",
        "WATCHDOG_INTERVAL",
        "THREAD_WORKERS",
        "LOST_AFTER",
        "POLL_INTERVAL",
        "FALLBACK_AFTER",
    )
    for name in numbers:
        if name in user and not _positive(name, user[name]):
            messages.append(
                Error(
                    f"LIVEOPS[{name!r}] must be a positive number, not {user[name]!r}.",
                    hint=f"The default is {DEFAULTS[name]!r}.",
                    id="liveops_htmx.E005",
                )
            )
    hints = {
        "FLUSH_INTERVAL": "0.1 means at most 10 coalesced flushes a second per operation.",
        "CLOSE_GRACE": "0 closes a finished operation's socket at once, without waiting "
        "for the page.",
    }
    for name, hint in hints.items():
        value = user.get(name, DEFAULTS[name])
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            messages.append(
                Error(
                    f"LIVEOPS[{name!r}] must be a number of seconds >= 0, not {value!r}.",
                    hint=hint,
                    id="liveops_htmx.E005",
                )
            )
    inboxes = user.get("INBOX_CHANNELS", DEFAULTS["INBOX_CHANNELS"])
    if not _whole(inboxes):
        messages.append(
            Error(
                f"LIVEOPS['INBOX_CHANNELS'] must be a whole number above 0, not {inboxes!r}.",
                hint=f"The default is {DEFAULTS['INBOX_CHANNELS']!r} channels per event loop.",
                id="liveops_htmx.E005",
            )
        )
    sockets = user.get("SOCKETS_PER_USER", DEFAULTS["SOCKETS_PER_USER"])
    if sockets is not None and not _whole(sockets):
        messages.append(
            Error(
                f"LIVEOPS['SOCKETS_PER_USER'] must be a whole number above 0 or None, "
                f"not {sockets!r}.",
                hint=f"The default is {DEFAULTS['SOCKETS_PER_USER']!r} live connections per "
                "visitor and serving process; None turns the limit off.",
                id="liveops_htmx.E010",
            )
        )
    return messages


def _check_transport(user: dict[str, Any]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    transport = user.get("TRANSPORT", DEFAULTS["TRANSPORT"])
    if transport not in TRANSPORTS:
        messages.append(
            Error(
                f"LIVEOPS['TRANSPORT'] must be one of {', '.join(map(repr, TRANSPORTS))}, "
                f"not {transport!r}.",
                hint="'auto' opens a WebSocket and falls back to Server-Sent Events, then to "
                "polling; the others force one transport (see docs/transports.md).",
                id="liveops_htmx.E012",
            )
        )
    url = user.get("WS_URL", DEFAULTS["WS_URL"])
    if not (isinstance(url, str) and url.startswith("/") and url.endswith("/")):
        messages.append(
            Error(
                f"LIVEOPS['WS_URL'] must be an absolute path ending in '/', not {url!r}.",
                hint="It must match where websocket_urlpatterns are routed.",
                id="liveops_htmx.E006",
            )
        )
    return messages


_SCRIPTS_HINT = (
    "Name the scripts in load order, htmx first, then the extensions the transport needs "
    "(ws, sse): static paths (e.g. ['vendor/htmx.min.js', 'vendor/ext/hx-ws.min.js', "
    "'vendor/ext/hx-sse.min.js']) or URLs starting with '/', "
    "'http://' or 'https://'. None loads django-htmx's bundled copies."
)


def _check_htmx_scripts(scripts: Any) -> list[CheckMessage]:
    def error(problem: str) -> list[CheckMessage]:
        message = f"LIVEOPS['HTMX_SCRIPTS'] {problem}"
        return [Error(message, hint=_SCRIPTS_HINT, id="liveops_htmx.E008")]

    if not isinstance(scripts, (list, tuple)):
        return error(f"must be a list of script paths or URLs, not {scripts!r}.")
    if not scripts:
        return error("is empty: the pages would load no htmx.")
    bad = [s for s in scripts if not isinstance(s, str) or not s or s != s.strip()]
    if bad:
        return error(f"must hold non-empty strings without surrounding spaces, not {bad!r}.")
    if not apps.is_installed("django.contrib.staticfiles"):
        return []
    from django.contrib.staticfiles import finders

    missing = [s for s in scripts if not s.startswith(SCRIPT_URL_PREFIXES) and not finders.find(s)]
    if not missing:
        return []
    return [
        Warning(
            f"LIVEOPS['HTMX_SCRIPTS'] names static files that no finder finds: "
            f"{', '.join(missing)}.",
            hint="Check the paths against STATICFILES_DIRS and the apps' static folders.",
            id="liveops_htmx.W007",
        )
    ]


@register(Tags.urls)
def check_transport_urls(**kwargs: Any) -> list[CheckMessage]:
    """Server-Sent Events and polling are views of ``liveops_htmx.urls``: is it included?"""
    from django.urls import NoReverseMatch, reverse

    transport = conf.TRANSPORT
    if transport not in TRANSPORTS or transport == "websocket":
        return []
    try:
        reverse("liveops_htmx:list-poll")
    except NoReverseMatch:
        pass
    else:
        return []
    hint = 'Add path("live/", include("liveops_htmx.urls")) to your URLconf.'
    if transport == "auto":
        return [
            Warning(
                "LIVEOPS['TRANSPORT'] is 'auto' but liveops_htmx.urls is not included: "
                "pages follow over WebSockets only, with no fallback.",
                hint=hint + " Or set LIVEOPS['TRANSPORT'] = 'websocket'.",
                id="liveops_htmx.W008",
            )
        ]
    return [
        Error(
            f"LIVEOPS['TRANSPORT'] is {transport!r}, whose views are in liveops_htmx.urls, "
            "which is not included.",
            hint=hint,
            id="liveops_htmx.E013",
        )
    ]


@register()
def check_text_columns(**kwargs: Any) -> list[CheckMessage]:
    """TEXT_MAX promises whole status lines of that length: the column must hold them."""
    from liveops_htmx.registry import operation_models

    messages: list[CheckMessage] = []
    for model in operation_models():
        length = getattr(model._meta.get_field("status"), "max_length", None)
        if length and length < conf.TEXT_MAX:
            messages.append(
                Error(
                    f"LIVEOPS['TEXT_MAX'] is {conf.TEXT_MAX}, but {model._meta.label}.status "
                    f"holds {length} characters.",
                    hint="Lower TEXT_MAX, or give the status field a longer max_length.",
                    obj=model,
                    id="liveops_htmx.E011",
                )
            )
    return messages


@register()
def check_runner(**kwargs: Any) -> list[CheckMessage]:
    from django.utils.module_loading import import_string

    from liveops_htmx.runners import OUT_OF_PROCESS, RUNNERS

    name = conf.RUNNER
    try:
        runner = import_string(RUNNERS.get(name, name))
    except ImportError as exc:
        return [
            Error(
                f"LIVEOPS['RUNNER'] {name!r} cannot be loaded: {exc}",
                hint=f"Use one of {', '.join(RUNNERS)} (with its extra installed), or the "
                "dotted path of an object with a submit(label, pk) method.",
                id="liveops_htmx.E007",
            )
        ]
    if not callable(getattr(runner, "submit", None)):
        return [
            Error(
                f"LIVEOPS['RUNNER'] {name!r} has no submit(label, pk) method.",
                hint="A runner is an object with submit(label: str, pk: str).",
                id="liveops_htmx.E007",
            )
        ]
    layers = getattr(settings, "CHANNEL_LAYERS", None) or {}
    backend = str(layers.get(conf.CHANNEL_LAYER, {}).get("BACKEND", ""))
    if name in OUT_OF_PROCESS and backend.endswith("InMemoryChannelLayer"):
        return [
            Warning(
                f"The {name} runner works in other processes, which the in-memory channel "
                "layer does not reach: pages will show snapshots, not live updates.",
                hint="Use channels_redis (RedisChannelLayer or RedisPubSubChannelLayer).",
                id="liveops_htmx.W004",
            )
        ]
    return []


def _redis_py_major() -> int:
    try:
        import redis
    except ImportError:
        return 0
    return int(str(redis.__version__).split(".")[0])


@register()
def check_redis_timeout(**kwargs: Any) -> list[CheckMessage]:
    layers = getattr(settings, "CHANNEL_LAYERS", None) or {}
    layer = layers.get(conf.CHANNEL_LAYER) or {}
    if layer.get("BACKEND") != "channels_redis.core.RedisChannelLayer":
        return []
    hosts = hosts_of(layer.get("CONFIG") or {})
    short = [
        h for h in hosts if not (isinstance(h, dict) and float(h.get("socket_timeout", 0)) > 5)
    ]
    if not short or _redis_py_major() < 8:
        return []
    return [
        Warning(
            "RedisChannelLayer blocks 5 s in BZPOPMIN, as long as redis-py's default "
            "socket timeout: every idle receive times out.",
            hint='Give each host a longer one: {"address": "redis://...", "socket_timeout": 10}.',
            id="liveops_htmx.W006",
        )
    ]


#: The channel capacity below which a busy server's inbox may overflow.
INBOX_CAPACITY = 1000


@register()
def check_inbox_capacity(**kwargs: Any) -> list[CheckMessage]:
    """Every push a server process follows arrives on one of its few inbox channels."""
    from channels.layers import BaseChannelLayer

    from liveops_htmx.serverside.inbox import PLAIN_PREFIX

    layers = getattr(settings, "CHANNEL_LAYERS", None) or {}
    layer = layers.get(conf.CHANNEL_LAYER) or {}
    if layer.get("BACKEND") != "channels_redis.core.RedisChannelLayer":
        return []
    config = layer.get("CONFIG") or {}
    sizes = BaseChannelLayer(capacity=config.get("capacity", 100))
    sizes.channel_capacity = sizes.compile_capacities(config.get("channel_capacity") or {})
    hosts = hosts_of(config)
    # Over several hosts the inboxes keep the layer's own names (see serverside/inbox.py).
    pattern = f"{PLAIN_PREFIX}*" if len(hosts) == 1 else "specific.*"
    capacity = sizes.get_capacity(pattern.replace("*", "x!y"))
    if capacity >= INBOX_CAPACITY:
        return []
    return [
        Warning(
            f"The channel layer holds {capacity} messages per channel: a server process "
            "receives every push it follows on a few channels (INBOX_CHANNELS), and one "
            "that falls that far behind drops pushes (its pages are healed from the "
            "database, at a cost).",
            hint=f'Add "channel_capacity": {{"{pattern}": 10000}} to the layer\'s CONFIG.',
            id="liveops_htmx.W010",
        )
    ]


@register()
def check_project(**kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    user = getattr(settings, "LIVEOPS", None) or {}
    own_scripts = isinstance(user, dict) and user.get("HTMX_SCRIPTS") is not None
    if not own_scripts and not apps.is_installed("django_htmx"):
        messages.append(
            Warning(
                "django_htmx is not in INSTALLED_APPS.",
                hint="Add it to load htmx and its ws and sse extensions: "
                '{% load django_htmx %}{% htmx_script extensions="hx-ws,hx-sse" %}, '
                "use {% liveops_scripts %}, or name your own in LIVEOPS['HTMX_SCRIPTS'].",
                id="liveops_htmx.W002",
            )
        )
    labels = [config.label for config in apps.get_app_configs()]
    if "admin" in labels and labels.index("liveops_htmx") < labels.index("admin"):
        messages.append(
            Warning(
                "liveops_htmx comes before django.contrib.admin in INSTALLED_APPS.",
                hint="Put it after the admin, so your own admin registrations of operation "
                "models come first and liveops_htmx only fills in the rest.",
                id="liveops_htmx.W005",
            )
        )
    if not getattr(settings, "ASGI_APPLICATION", None):
        messages.append(
            Warning(
                "ASGI_APPLICATION is not set: the WebSocket route cannot be served.",
                hint="Point it at an ASGI application that routes websocket_urlpatterns.",
                id="liveops_htmx.W003",
            )
        )
    return messages
