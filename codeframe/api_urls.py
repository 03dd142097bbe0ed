from rest_framework.routers import SimpleRouter

from codeframe.api import CodeframeViewSet

app_name = "codeframe-api"
router = SimpleRouter(use_regex_path=False)
router.register("", CodeframeViewSet, basename="codeframe")
urlpatterns = router.urls
