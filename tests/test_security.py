from __future__ import annotations

import pytest
from django.core import signing
from django.test.utils import override_settings

from liveops_htmx.security import (
    SALT,
    CloseCode,
    Subscription,
    SubscriptionRefused,
    check_user,
    make_subscription_token,
    read_subscription_token,
)


def refused(token):
    with pytest.raises(SubscriptionRefused) as info:
        read_subscription_token(token)
    return info.value


def test_a_token_binds_model_pk_and_user(report, user):
    sub = read_subscription_token(make_subscription_token(user, report))
    assert sub == Subscription(model="testapp.Report", pk=str(report.pk), user_pk=str(user.pk))
    check_user(sub, user)


def test_an_anonymous_token_binds_no_user(report, anonymous):
    sub = read_subscription_token(make_subscription_token(anonymous, report))
    assert sub.user_pk is None
    check_user(sub, anonymous)
    check_user(sub, None)


def test_the_user_must_match(report, user, other_user, anonymous):
    sub = read_subscription_token(make_subscription_token(user, report))
    for someone_else in (other_user, anonymous, None):
        with pytest.raises(SubscriptionRefused) as info:
            check_user(sub, someone_else)
        assert info.value.code == CloseCode.FORBIDDEN
        assert info.value.sub.pk == str(report.pk)


@pytest.mark.parametrize("token", [None, "", "abc", "a:b", "a:b:c:d", "é:b:c", "a:b:" + "c" * 300])
def test_malformed_tokens_are_4400(token):
    assert refused(token).code == CloseCode.MALFORMED


def test_a_token_signed_otherwise_is_4401(report, user):
    token = make_subscription_token(user, report)
    assert refused(token[:-2] + "zz").code == CloseCode.BAD_SIGNATURE
    with override_settings(SECRET_KEY="another"):
        other = make_subscription_token(user, report)
    assert refused(other).code == CloseCode.BAD_SIGNATURE


def test_a_signed_payload_of_the_wrong_shape_is_4400():
    token = signing.TimestampSigner(salt=SALT).sign_object({"m": 1})
    assert refused(token).code == CloseCode.MALFORMED


def test_an_old_token_is_4410_and_still_names_its_operation(report, user, monkeypatch):
    monkeypatch.setattr(signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(10))
    token = make_subscription_token(user, report)
    monkeypatch.undo()
    error = refused(token)
    assert error.code == CloseCode.EXPIRED
    assert error.sub.pk == str(report.pk)


@override_settings(LIVEOPS={"TOKEN_MAX_AGE": 5})
def test_the_expiry_is_a_setting(report, user, monkeypatch):
    import time

    now = time.time()
    monkeypatch.setattr(
        signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(int(now - 10))
    )
    token = make_subscription_token(user, report)
    monkeypatch.undo()
    assert refused(token).code == CloseCode.EXPIRED
