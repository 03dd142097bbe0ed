"""Questions: the list, a question's page, importing answers (upload or paste), naming a
wave, deleting, and starting a codeframe's generation (a background job)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import (
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from codeframe import jobs, scoping, selectors, services, waves
from codeframe.conf import get_config
from codeframe.exceptions import (
    CodeframeError,
)
from codeframe.forms import (
    GenerateForm,
    ImportForm,
)
from codeframe.importers import read_pasted, read_upload
from codeframe.models import Role
from codeframe.throttling import GenerationThrottle, ImportThrottle, refund, throttle_page
from codeframe.uploads import limit_upload
from codeframe.validators import as_id
from codeframe.views.shared import QUESTIONS_PER_PAGE, refuse, roles_of


@require_GET
@login_required
def question_list(request: HttpRequest) -> HttpResponse:
    services.personal_project(user=request.user)
    project = None
    if (wanted := as_id(request.GET.get("project", ""))) is not None:
        project = selectors.get_project(user=request.user, project_id=wanted)
    # Paged by row: a tracker with all its waves is one, so its waves never split over pages.
    page = Paginator(
        selectors.listed_questions(user=request.user, project=project), QUESTIONS_PER_PAGE
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "codeframe/question_list.html",
        {
            "questions": selectors.with_waves(user=request.user, questions=page),
            "page": page,
            "project": project,
        },
    )


@require_GET
@login_required
def question_detail(request: HttpRequest, question_id: int) -> HttpResponse:
    question = selectors.get_question(user=request.user, question_id=question_id)
    tracker_frame = None
    if selectors.is_tracker(question=question):
        # Which of the wave's codeframes the tracker's tables and SPSS file count.
        tracker_frame = waves.tracker_wave(question=question).codeframe
    codeframes = list(selectors.question_codeframes(question=question))
    return render(
        request,
        "codeframe/question_detail.html",
        {
            "question": question,
            "samples": selectors.sample_responses(question=question),
            "codeframes": codeframes,
            "tracker_frame": tracker_frame,
            "jobs": selectors.question_jobs(question=question),
            "generate_form": GenerateForm(),
            # A tracker's wave, or a question whose approved frame may start one.
            "can_name_wave": bool(question.wave_order) or any(c.approved for c in codeframes),
            **roles_of(request.user, question.project_id),
        },
    )


@require_POST
@login_required
def question_wave_name(request: HttpRequest, question_id: int) -> HttpResponse:
    question = selectors.get_question(user=request.user, question_id=question_id, role=Role.ANALYST)
    try:
        waves.rename_wave(question=question, label=request.POST.get("wave", ""))
    except CodeframeError as exc:
        return refuse(request, str(exc), redirect(question))
    messages.success(request, f"This wave is now called “{question.wave_label}”.")
    return redirect(question)


@require_POST
@login_required
def question_delete(request: HttpRequest, question_id: int) -> HttpResponse:
    question = selectors.get_question(user=request.user, question_id=question_id, role=Role.MANAGER)
    project = question.project
    try:
        services.delete_question(question=question)
    except CodeframeError as exc:
        messages.error(request, str(exc))
        return redirect(question)
    wave = f" (wave {question.wave_name})" if question.wave_order else ""
    messages.success(request, f"Deleted “{question}”{wave} with its answers and codeframes.")
    return redirect(project)


def _import_form(request, question, *args) -> ImportForm:
    if question is not None:
        return ImportForm(*args, existing=True)
    personal = services.personal_project(user=request.user)
    # The personal project is the empty choice ("My personal project"), not listed again.
    projects = scoping.projects_for(request.user, role=Role.ANALYST).exclude(pk=personal.pk)
    current = as_id(request.GET.get("project", ""))
    initial = {"project": current} if current is not None else {}
    return ImportForm(*args, existing=False, projects=projects, initial=initial)


def _import_question(request, question_id: int | None):
    """The question answers are imported into (for an analyst of its project), or None for a
    new one."""
    if not question_id:
        return None
    return selectors.get_question(user=request.user, question_id=question_id, role=Role.ANALYST)


def _too_large(request, message: str, kept, question_id: int | None = None) -> HttpResponse:
    """The page again with `message` and what was typed (`kept`, the fields read), the file
    excepted."""
    question = _import_question(request, question_id)
    form = _import_form(request, question)
    form.initial.update({name: kept[name] for name in form.fields if name in kept})
    return render(
        request,
        "codeframe/question_import.html",
        {
            "form": form,
            "question": question,
            "limit": get_config()["MAX_UPLOAD_BYTES"],
            "coded_wave": waves.coded_wave(question=question),
            "can_replace": _can_replace(request, question),
            "upload_error": message,
        },
        status=413,
    )


@csrf_exempt  # checked by limit_upload's view, after the size limits are in place
@login_required
@limit_upload(_too_large)
@throttle_page(ImportThrottle)
def question_import(request: HttpRequest, question_id: int | None = None) -> HttpResponse:
    question = _import_question(request, question_id)
    form = _import_form(request, question)
    if request.method == "POST":
        form = _import_form(request, question, request.POST, request.FILES)
        replacing = form.is_valid() and form.cleaned_data.get("replace")
        if replacing and not _can_replace(request, question):
            form.add_error(None, "Replacing deletes the codeframes: only managers may do it.")
        if not form.is_valid():
            refund(request)  # refused before anything was read into the question
        else:
            data = form.cleaned_data
            if question is None and data.get("project") is None:
                data["project"] = services.personal_project(user=request.user)
            appending = (
                question is not None and not data.get("replace") and question.responses.exists()
            )
            numeric = waves.had_numeric_ids(question=question)
            try:
                result = _import(data, question)
            except CodeframeError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request,
                    f"Imported {result.imported:,} answers"
                    + (f" ({result.skipped:,} blank skipped)." if result.skipped else "."),
                )
                if data.get("file") is not None:
                    notice = result.id_notice(option="“Respondent id column”")
                else:  # numbered by their line: a notice only beside other answers
                    notice = services.pasted_notice(result.numbered) if appending else ""
                if notice:
                    messages.warning(request, notice)
                if notice := waves.string_ids_notice(question=result.question, had_numeric=numeric):
                    messages.warning(request, notice)
                return redirect(result.question)
    return render(
        request,
        "codeframe/question_import.html",
        {
            "form": form,
            "question": question,
            "limit": get_config()["MAX_UPLOAD_BYTES"],
            "coded_wave": waves.coded_wave(question=question),
            "can_replace": _can_replace(request, question),
        },
    )


def _import(data: dict, question) -> services.ImportResult:
    upload = data.get("file")
    if upload is not None:
        rows = read_upload(
            upload,
            filename=upload.name,
            column=data.get("column"),
            id_column=data.get("id_column"),
            sheet=data.get("sheet") or None,
        )
    else:
        rows = read_pasted(data["pasted"])
    return services.import_responses(
        rows=rows,
        question=question,
        project=data.get("project"),
        survey=data.get("survey", ""),
        question_text=data.get("question_text", ""),
        replace=data.get("replace", False),
    )


def _can_replace(request, question) -> bool:
    """Replacing is for managers (refused below that role): not offered to others."""
    return question is not None and scoping.has_role(
        request.user, question.project_id, Role.MANAGER
    )


@require_POST
@login_required
@throttle_page(GenerationThrottle)
def question_generate(request: HttpRequest, question_id: int) -> HttpResponse:
    question = selectors.get_question(user=request.user, question_id=question_id, role=Role.ANALYST)
    form = GenerateForm(request.POST)
    if not form.is_valid():
        refund(request)
        return refuse(request, "Codes must be whole numbers between 1 and 200.", redirect(question))
    asked = timezone.now()
    try:
        job = jobs.queue_generation(
            question=question,
            user=request.user,
            n_codes=form.cleaned_data["n_codes"],
            max_codes=form.cleaned_data["max_codes"],
        )
    except CodeframeError as exc:
        refund(request)
        return refuse(request, str(exc), redirect(question))
    if job.created < asked:  # the same generation, already queued: a second click is free
        refund(request)
    return redirect(job)
