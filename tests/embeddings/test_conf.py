"""The EMBEDDINGS settings dict and the environment variables that fill it."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import settings as project_settings
from embeddings.conf import get_config


@pytest.mark.parametrize("raw", ["0", "-5", " -1 ", "soon"])
def test_env_ttl_zero_or_negative_is_refused(raw):
    with pytest.raises(ImproperlyConfigured, match="EMBEDDINGS_TTL"):
        project_settings._ttl(raw)


@pytest.mark.parametrize(("raw", "ttl"), [("none", None), ("never", None), ("3600", 3600)])
def test_env_ttl_none_or_positive(raw, ttl):
    assert project_settings._ttl(raw) == ttl


@pytest.mark.parametrize("ttl", [0, -1, 1.5, "3600"])
def test_settings_ttl_must_be_none_or_a_positive_integer(settings, ttl):
    settings.EMBEDDINGS = {**settings.EMBEDDINGS, "TTL": ttl}
    with pytest.raises(ImproperlyConfigured, match="TTL"):
        get_config()
