from django.urls import path
from rest_framework.routers import SimpleRouter

from codeframe.api import CodeframeViewSet
from codeframe.api_edits import CodeframeEditViewSet

app_name = "codeframe-api"
router = SimpleRouter(use_regex_path=False)
router.register("", CodeframeViewSet, basename="codeframe")

edits = CodeframeEditViewSet.as_view
urlpatterns = [
    *router.urls,
    path("<int:codeframe_id>/codes/", edits({"post": "add_code"}), name="code-list"),
    path(
        "<int:codeframe_id>/codes/<int:number>/",
        edits({"patch": "edit_code", "delete": "delete_code"}),
        name="code-detail",
    ),
    path(
        "<int:codeframe_id>/codes/<int:number>/merge/",
        edits({"post": "merge_code"}),
        name="code-merge",
    ),
    path(
        "<int:codeframe_id>/codes/<int:number>/responses/",
        edits({"post": "code_answers"}),
        name="code-responses",
    ),
    path(
        "<int:codeframe_id>/codes/<int:number>/responses/remove/",
        edits({"post": "uncode_answers"}),
        name="code-responses-remove",
    ),
    path("<int:codeframe_id>/nets/<int:number>/", edits({"patch": "edit_net"}), name="net-detail"),
    path("<int:codeframe_id>/responses/", edits({"get": "find"}), name="response-list"),
    path(
        "<int:codeframe_id>/responses/<int:response_id>/",
        edits({"patch": "edit_response"}),
        name="response-detail",
    ),
    path("<int:codeframe_id>/review/", edits({"get": "review"}), name="review"),
]
