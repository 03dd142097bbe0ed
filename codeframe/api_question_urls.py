from rest_framework.routers import SimpleRouter

from codeframe.api_questions import ProjectViewSet, QuestionViewSet

app_name = "codeframe-api-questions"
router = SimpleRouter(use_regex_path=False)
router.register("projects", ProjectViewSet, basename="project")
router.register("questions", QuestionViewSet, basename="question")
urlpatterns = router.urls
