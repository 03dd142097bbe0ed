from rest_framework.routers import SimpleRouter

from codeframe.api import JobViewSet

app_name = "codeframe-api-jobs"
router = SimpleRouter(use_regex_path=False)
router.register("", JobViewSet, basename="job")
urlpatterns = router.urls
