"""/healthz for load balancers and supervisors, and plain-HTTP probes and scrapes in production
(HTTPS redirects on)."""

import pytest
from django.db import DatabaseError
from django.test import Client

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_a_login():
    reply = Client().get("/healthz")
    assert reply.status_code == 200 and reply.json() == {"status": "ok"}
    assert "no-cache" in reply["Cache-Control"]
    assert Client().head("/healthz").status_code == 200  # probes that send HEAD
    assert Client().post("/healthz").status_code == 405


def test_healthz_is_503_when_the_database_does_not_answer(monkeypatch):
    from django.db import connection

    def refuse():
        raise DatabaseError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)
    reply = Client().get("/healthz")
    assert reply.status_code == 503 and reply.json() == {"status": "unavailable"}  # no detail


def test_probes_and_scrapes_are_not_redirected_to_https(settings):
    """With production's SECURE_SSL_REDIRECT a Prometheus scrape straight to gunicorn got a 301
    to https, and so did a health probe. Through the proxy (X-Forwarded-Proto) they are still
    redirected, so the metrics token never goes in clear; pages always are."""
    from config.middleware import PLAIN_HTTP_EXEMPT

    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = PLAIN_HTTP_EXEMPT
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    client = Client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 401  # the token's business, not a redirect
    assert client.get("/metrics", HTTP_X_FORWARDED_PROTO="http").status_code == 301
    assert client.get("/metrics", HTTP_X_FORWARDED_PROTO="https").status_code == 401
    assert client.get("/accounts/login/").status_code == 301
