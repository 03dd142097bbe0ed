from django.urls import path
from django.views.generic import RedirectView

from codeframe import views

app_name = "codeframe"
urlpatterns = [
    path("", RedirectView.as_view(pattern_name="codeframe:question-list"), name="home"),
    path("questions/", views.question_list, name="question-list"),
    path("questions/import/", views.question_import, name="question-import"),
    path("questions/<int:question_id>/", views.question_detail, name="question-detail"),
    path("questions/<int:question_id>/delete/", views.question_delete, name="question-delete"),
    path(
        "questions/<int:question_id>/import/",
        views.question_import,
        name="question-import-more",
    ),
    path(
        "questions/<int:question_id>/generate/",
        views.question_generate,
        name="question-generate",
    ),
    path("questions/<int:question_id>/wave/", views.question_wave_name, name="question-wave"),
    path("questions/<int:question_id>/tracker/", views.question_tracker, name="question-tracker"),
    path(
        "codeframes/<int:codeframe_id>/approve/", views.codeframe_approve, name="codeframe-approve"
    ),
    path("codeframes/<int:codeframe_id>/waves/new/", views.wave_new, name="wave-new"),
    path("codeframes/<int:codeframe_id>/recode/", views.codeframe_recode, name="codeframe-recode"),
    path(
        "codeframes/<int:codeframe_id>/carry-back/",
        views.codeframe_carry_back,
        name="codeframe-carry-back",
    ),
    path(
        "codeframes/<int:codeframe_id>/suggestions/<int:suggestion_id>/<str:decision>/",
        views.suggestion_decide,
        name="suggestion-decide",
    ),
    path("jobs/<uuid:job_id>/", views.job_detail, name="job-detail"),
    path("jobs/<uuid:job_id>/cancel/", views.job_cancel, name="job-cancel"),
    path("jobs/<uuid:job_id>/retry/", views.job_retry, name="job-retry"),
    path("codeframes/<int:codeframe_id>/", views.codeframe_detail, name="codeframe-detail"),
    path(
        "codeframes/<int:codeframe_id>/delete/",
        views.codeframe_delete,
        name="codeframe-delete",
    ),
    path(
        "codeframes/<int:codeframe_id>/export.<str:fmt>",
        views.codeframe_export,
        name="codeframe-export",
    ),
    path(
        "codeframes/<int:codeframe_id>/uncoded/",
        views.codeframe_uncoded,
        name="codeframe-uncoded",
    ),
    path("codeframes/<int:codeframe_id>/find/", views.codeframe_find, name="codeframe-find"),
    path(
        "codeframes/<int:codeframe_id>/find/code/",
        views.answers_add_code,
        name="answers-add-code",
    ),
    path(
        "codeframes/<int:codeframe_id>/review/",
        views.codeframe_review,
        name="codeframe-review",
    ),
    path(
        "codeframes/<int:codeframe_id>/review/confirm/",
        views.review_confirm_all,
        name="review-confirm-all",
    ),
    path(
        "codeframes/<int:codeframe_id>/codes/<int:code_id>/",
        views.code_detail,
        name="code-detail",
    ),
    path(
        "codeframes/<int:codeframe_id>/codes/<int:code_id>/rename/",
        views.code_rename,
        name="code-rename",
    ),
    path(
        "codeframes/<int:codeframe_id>/codes/<int:code_id>/net/",
        views.code_set_net,
        name="code-set-net",
    ),
    path(
        "codeframes/<int:codeframe_id>/nets/<int:net_id>/rename/",
        views.net_rename,
        name="net-rename",
    ),
    path(
        "codeframes/<int:codeframe_id>/codes/<int:code_id>/merge/",
        views.code_merge,
        name="code-merge",
    ),
    path(
        "codeframes/<int:codeframe_id>/codes/<int:code_id>/delete/",
        views.code_delete,
        name="code-delete",
    ),
    path(
        "codeframes/<int:codeframe_id>/responses/<int:response_id>/move/",
        views.response_move,
        name="response-move",
    ),
    path(
        "codeframes/<int:codeframe_id>/responses/<int:response_id>/uncode/",
        views.response_uncode,
        name="response-uncode",
    ),
    path(
        "codeframes/<int:codeframe_id>/responses/<int:response_id>/confirm/",
        views.response_confirm,
        name="response-confirm",
    ),
    path(
        "codeframes/<int:codeframe_id>/responses/<int:response_id>/release/",
        views.response_release,
        name="response-release",
    ),
    path("codeframes/<int:codeframe_id>/codes/new/", views.code_add, name="code-add"),
    path(
        "codeframes/<int:codeframe_id>/responses/<int:response_id>/codes/<int:code_id>/remove/",
        views.response_remove_second_code,
        name="response-remove-second-code",
    ),
    path("projects/", views.project_list, name="project-list"),
    path("projects/<int:project_id>/", views.project_detail, name="project-detail"),
    path(
        "projects/<int:project_id>/members/",
        views.project_member_set,
        name="project-member-set",
    ),
    path(
        "projects/<int:project_id>/members/<int:user_id>/remove/",
        views.project_member_remove,
        name="project-member-remove",
    ),
]
