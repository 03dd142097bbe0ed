"""Static files are served by the app itself (WhiteNoise), so gunicorn alone shows styled pages
and a Swagger UI that needs no CDN."""

from django.test import Client


def test_admin_css_and_swagger_ui_are_served_locally(django_user_model):
    client = Client()
    css = client.get("/static/admin/css/base.css")
    assert css.status_code == 200
    assert b"body" in b"".join(css.streaming_content)
    assert client.get("/api/docs/").status_code == 401  # the docs need a login
    client.force_login(django_user_model.objects.create_user("reader", password="pw-reader-1"))
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn.jsdelivr" not in html
    bundle = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert bundle.status_code == 200
