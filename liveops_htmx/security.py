"""Subscription tokens: which user may follow which operation, for how long.

A token is minted when a page renders ``{% liveop op %}`` and travels in the socket
URL. It is signed (its own salt), binds the operation (model label and pk) and the
user (pk, or ``None`` for an anonymous visitor), and expires after
``LIVEOPS["TOKEN_MAX_AGE"]`` seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core import signing
from django.utils.translation import gettext_lazy as _

from liveops_htmx.conf import conf

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser
    from django.utils.functional import _StrPromise

    from liveops_htmx.models import LiveOperation

SALT = "liveops_htmx.subscription"
_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,2000}:[A-Za-z0-9_-]{1,20}:[A-Za-z0-9_-]{1,200}$")


class CloseCode:
    """WebSocket close codes the consumer uses (documented in the README)."""

    NORMAL = 1000  # the operation finished: nothing more will come
    TOO_BIG = 1009  # a client frame over LIVEOPS["CLIENT_FRAME_MAX"] bytes
    SERVER_ERROR = 1011  # the server could not set the subscription up; htmx retries
    MALFORMED = 4400  # token missing or not a token at all
    BAD_SIGNATURE = 4401  # token altered, or signed with another SECRET_KEY
    FORBIDDEN = 4403  # token for another user, or the user may not see the operation
    NOT_FOUND = 4404  # the operation no longer exists
    EXPIRED = 4410  # token older than LIVEOPS["TOKEN_MAX_AGE"]: reload the page
    TOO_MANY = 4429  # the visitor holds LIVEOPS["SOCKETS_PER_USER"] sockets in this process
    UNAVAILABLE = 4503  # the server has no channel layer for live updates


REASONS: dict[int, _StrPromise] = {
    CloseCode.MALFORMED: _("Live updates are unavailable: the page's link is invalid."),
    CloseCode.BAD_SIGNATURE: _("Live updates are unavailable: the page's link is invalid."),
    CloseCode.FORBIDDEN: _("Live updates are unavailable for this account."),
    CloseCode.NOT_FOUND: _("This operation no longer exists."),
    CloseCode.EXPIRED: _("Live updates stopped: reload the page to resume them."),
    CloseCode.TOO_MANY: _(
        "Live updates are paused: too many live pages are open. Close some, then reload this page."
    ),
    CloseCode.UNAVAILABLE: _("Live updates are unavailable on this server."),
}


@dataclass(frozen=True)
class Subscription:
    model: str  # "app_label.ModelName"; empty for a list
    pk: str  # empty for a list
    user_pk: str | None
    kind: str = "op"  # "op": one operation; "list": the user's operations list


class SubscriptionRefused(Exception):
    """The socket may not follow what it asked for; ``code`` says why.

    ``sub`` is the subscription the token named, when it could be read: the refusal
    notice replaces that subscription's socket element.
    """

    def __init__(self, code: int, sub: Subscription | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.sub = sub


def _user_key(user: AbstractBaseUser | AnonymousUser | None) -> str | None:
    if user is None or not user.is_authenticated:
        return None
    return str(user.pk)


def make_subscription_token(
    user: AbstractBaseUser | AnonymousUser | None, op: LiveOperation
) -> str:
    """Mint the token that lets ``user`` follow ``op`` over the socket."""
    payload = {"m": op._meta.label, "p": str(op.pk), "u": _user_key(user)}
    return signing.TimestampSigner(salt=SALT).sign_object(payload, compress=False)


def make_list_token(user: AbstractBaseUser | AnonymousUser) -> str:
    """Mint the token that lets ``user`` follow their own operations list."""
    payload = {"k": "list", "u": _user_key(user)}
    return signing.TimestampSigner(salt=SALT).sign_object(payload, compress=False)


def read_subscription_token(token: str | None) -> Subscription:
    """Verify ``token``; raise :class:`SubscriptionRefused` with the close code if it fails."""
    if not token or not _SHAPE.match(token):
        raise SubscriptionRefused(CloseCode.MALFORMED)
    signer = signing.TimestampSigner(salt=SALT)
    try:
        payload: Any = signer.unsign_object(token)
    except (signing.BadSignature, ValueError):
        raise SubscriptionRefused(CloseCode.BAD_SIGNATURE) from None
    is_list = isinstance(payload, dict) and payload.get("k") == "list"
    if not (
        isinstance(payload, dict)
        and (is_list or (isinstance(payload.get("m"), str) and isinstance(payload.get("p"), str)))
        and isinstance(payload.get("u"), (str, type(None)))
        and not (is_list and payload.get("u") is None)
    ):
        raise SubscriptionRefused(CloseCode.MALFORMED)
    if is_list:
        sub = Subscription(model="", pk="", user_pk=payload["u"], kind="list")
    else:
        sub = Subscription(model=payload["m"], pk=payload["p"], user_pk=payload["u"])
    try:
        signer.unsign(token, max_age=conf.TOKEN_MAX_AGE)
    except signing.SignatureExpired:
        raise SubscriptionRefused(CloseCode.EXPIRED, sub) from None
    return sub


def check_user(sub: Subscription, user: AbstractBaseUser | AnonymousUser | None) -> None:
    """Refuse a token minted for someone other than the socket's user."""
    if _user_key(user) != sub.user_pk:
        raise SubscriptionRefused(CloseCode.FORBIDDEN, sub)
