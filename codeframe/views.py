"""The analysts' pages: plain HTML forms, usable without JavaScript, for any logged-in user
within their projects. Every object is fetched through a scoped selector: one outside the
user's projects is a 404, a visible one the user's role may not change a 403."""

from functools import partial

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
)
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.utils.safestring import mark_safe
from django.utils.text import slugify
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from codeframe import carryback, exports, jobs, scoping, selectors, services, tracker, waves
from codeframe.conf import get_config
from codeframe.exceptions import (
    CarryBackConflict,
    CodeframeError,
    ImportFailed,
    InvalidEdit,
    NotAWaveFrame,
    TooManyResponses,
    UploadTooLarge,
)
from codeframe.exports import http as exports_http
from codeframe.forms import (
    AssignSuggestionForm,
    GenerateForm,
    ImportForm,
    MemberForm,
    MergeForm,
    MoveForm,
    ProjectForm,
    RenameForm,
    WaveForm,
)
from codeframe.importers import read_pasted, read_upload
from codeframe.models import Codeframe, Role
from codeframe.throttling import GenerationThrottle, ImportThrottle, refund, throttle_page
from codeframe.uploads import LimitedUploadHandler, content_length, human_bytes

QUESTIONS_PER_PAGE = 50


def _roles(user, project_id: int) -> dict:
    """What the templates may offer: `can_edit` (analyst), `can_manage` (manager)."""
    role = scoping.role_in(user, project_id)
    return {
        "role": role,
        "can_edit": scoping.has_role(user, project_id, Role.ANALYST),
        "can_manage": scoping.has_role(user, project_id, Role.MANAGER),
    }


@require_GET
@login_required
def question_list(request: HttpRequest) -> HttpResponse:
    services.personal_project(user=request.user)
    project = None
    if (wanted := request.GET.get("project", "")).isascii() and wanted.isdigit():
        project = selectors.get_project(user=request.user, project_id=int(request.GET["project"]))
    page = Paginator(
        selectors.question_list(user=request.user, project=project), QUESTIONS_PER_PAGE
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "codeframe/question_list.html",
        {"questions": page.object_list, "page": page, "project": project},
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
            **_roles(request.user, question.project_id),
        },
    )


@require_POST
@login_required
def question_wave_name(request: HttpRequest, question_id: int) -> HttpResponse:
    question = selectors.get_question(user=request.user, question_id=question_id, role=Role.ANALYST)
    try:
        waves.rename_wave(question=question, label=request.POST.get("wave", ""))
    except CodeframeError as exc:
        messages.error(request, str(exc))
    else:
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
    messages.success(request, f"Deleted “{question}” with its answers and codeframes.")
    return redirect(project)


# CSRF is checked by the inner view, after the size limits are in place: the CSRF middleware
# would otherwise parse the whole body before this view could refuse it.
@csrf_exempt
@login_required
@throttle_page(ImportThrottle)
def question_import(request: HttpRequest, question_id: int | None = None) -> HttpResponse:
    question = (
        selectors.get_question(user=request.user, question_id=question_id, role=Role.ANALYST)
        if question_id
        else None
    )
    handler = None
    if request.method == "POST":
        limit = get_config()["MAX_UPLOAD_BYTES"]
        if content_length(request.META) > limit:
            return _too_large(request, question, limit)
        handler = LimitedUploadHandler(request, limit=limit)
        request.upload_handlers.insert(0, handler)
        try:
            request.POST  # noqa: B018 - parse now, through the limited handler
        except RequestDataTooBig:
            return _too_large(request, question, limit)
    return _question_import(request, question, handler)


def _import_form(request, question, *args) -> ImportForm:
    if question is not None:
        return ImportForm(*args, existing=True)
    personal = services.personal_project(user=request.user)
    # The personal project is the empty choice ("My personal project"), not listed again.
    projects = scoping.projects_for(request.user, role=Role.ANALYST).exclude(pk=personal.pk)
    current = request.GET.get("project", "")
    initial = {"project": int(current)} if current.isascii() and current.isdigit() else {}
    return ImportForm(*args, existing=False, projects=projects, initial=initial)


@csrf_protect
def _question_import(request, question, handler) -> HttpResponse:
    form = _import_form(request, question)
    if request.method == "POST":
        form = _import_form(request, question, request.POST, request.FILES)
        if handler is not None and handler.exceeded:
            return _too_large(request, question, handler.limit)
        replacing = form.is_valid() and form.cleaned_data.get("replace")
        if replacing and not _can_replace(request, question):
            form.add_error(None, "Replacing deletes the codeframes: only managers may do it.")
        if not form.is_valid():
            refund(request)  # refused before anything was read into the question
        else:
            data = form.cleaned_data
            if question is None and data.get("project") is None:
                data["project"] = services.personal_project(user=request.user)
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
                # Pasted answers are numbered by their line: no notice for them.
                notice = result.id_notice(option="“Respondent id column”")
                if notice and data.get("file") is not None:
                    messages.warning(request, notice)
                return redirect(result.question)
    return render(
        request,
        "codeframe/question_import.html",
        {
            "form": form,
            "question": question,
            "limit": get_config()["MAX_UPLOAD_BYTES"],
            "coded_wave": _coded_wave(question),
            "can_replace": _can_replace(request, question),
        },
    )


def _coded_wave(question) -> dict | None:
    """When `question` is a coded wave of a tracker (more answers change its published base
    and stay uncoded until coded; the import page warns): its label, and whether it can be
    coded again (`waves.recode_with`). Else None."""
    if question is None or not selectors.is_tracker(question=question):
        return None
    wave = waves.tracker_wave(question=question)
    if wave.codeframe is None:
        return None
    return {"label": wave.label, "can_recode": _can_recode(wave.codeframe)}


def _import(data: dict, question) -> services.ImportResult:
    upload = data.get("file")
    if upload is not None:
        if upload.size > get_config()["MAX_UPLOAD_BYTES"]:
            raise UploadTooLarge("The file is larger than the upload limit.")
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


def _too_large(request, question, limit: int) -> HttpResponse:
    message = (
        f"The upload is larger than the limit of {human_bytes(limit)}; nothing was imported. "
        "Split the file or remove unused columns."
    )
    return render(
        request,
        "codeframe/question_import.html",
        {
            "form": _import_form(request, question),
            "question": question,
            "limit": limit,
            "coded_wave": _coded_wave(question),
            "can_replace": _can_replace(request, question),
            "upload_error": message,
        },
        status=413,
    )


@require_POST
@login_required
@throttle_page(GenerationThrottle)
def question_generate(request: HttpRequest, question_id: int) -> HttpResponse:
    question = selectors.get_question(user=request.user, question_id=question_id, role=Role.ANALYST)
    form = GenerateForm(request.POST)
    if not form.is_valid():
        refund(request)
        messages.error(request, "Codes must be whole numbers between 1 and 200.")
        return redirect(question)
    try:
        job = jobs.queue_generation(
            question=question,
            user=request.user,
            n_codes=form.cleaned_data["n_codes"],
            max_codes=form.cleaned_data["max_codes"],
        )
    except CodeframeError as exc:
        refund(request)
        messages.error(request, str(exc))
        return redirect(question)
    return redirect(job)


@require_GET
@login_required
def job_detail(request: HttpRequest, job_id) -> HttpResponse:
    """The job's progress; refreshes itself (no JavaScript needed) until it ends, and hands
    over to the codeframe once it is done."""
    jobs.recover_stale_jobs(job_ids=[job_id])
    job = selectors.get_job(user=request.user, job_id=job_id)
    if job.state == job.State.DONE and job.codeframe_id and "stay" not in request.GET:
        codeframe = job.codeframe
        if job.kind == job.Kind.WAVE:
            overview = selectors.codeframe_overview(codeframe=codeframe)
            suggested = len(selectors.pending_suggestions(codeframe=codeframe))
            messages.success(
                request,
                f"Wave {codeframe.question.wave_label} coded with codeframe "
                f"#{codeframe.coded_with_id}: {overview.total - overview.uncoded} of "
                f"{overview.total} answers coded, {suggested} suggested new "
                f"code{pluralize(suggested)}.",
            )
        else:
            messages.success(request, f"Codeframe generated: {codeframe.codes.count()} codes.")
        return redirect(codeframe)
    return render(
        request,
        "codeframe/job_detail.html",
        {"job": job, "question": job.question, **_roles(request.user, job.question.project_id)},
    )


@require_POST
@login_required
def job_cancel(request: HttpRequest, job_id) -> HttpResponse:
    job = selectors.get_job(user=request.user, job_id=job_id, role=Role.ANALYST)
    try:
        job = jobs.cancel_job(job=job)
    except CodeframeError as exc:
        messages.error(request, str(exc))
    else:
        messages.info(
            request,
            "Cancelled."
            if job.state == job.State.CANCELLED
            else "Cancelling: the worker stops at its next step.",
        )
    return redirect(job)


@require_POST
@login_required
@throttle_page(GenerationThrottle)  # a generation again, as the API's retry
def job_retry(request: HttpRequest, job_id) -> HttpResponse:
    job = selectors.get_job(user=request.user, job_id=job_id, role=Role.ANALYST)
    try:
        job = jobs.retry_job(job=job, user=request.user)
    except CodeframeError as exc:
        refund(request)
        messages.error(request, str(exc))
    return redirect(job)


@require_GET
@login_required
def codeframe_detail(request: HttpRequest, codeframe_id: int) -> HttpResponse:
    codeframe = selectors.get_codeframe(user=request.user, codeframe_id=codeframe_id)
    overview = selectors.codeframe_overview(codeframe=codeframe)
    is_tracker = selectors.is_tracker(question=codeframe.question)
    counted = None  # the wave's codeframe the tracker counts, when it is another one
    if is_tracker and (entry := waves.tracker_wave(question=codeframe.question)) is not None:
        counted = entry.codeframe if entry.codeframe != codeframe else None
    # Replaced when its wave was coded again: not to be approved (nor code later waves).
    replaced = counted is not None and waves.replaced_by(codeframe=codeframe) is not None
    return render(
        request,
        "codeframe/codeframe_detail.html",
        {
            "codeframe": codeframe,
            "overview": overview,
            "all_codes": overview.codes,
            "suggestions": selectors.pending_suggestions(codeframe=codeframe),
            "is_tracker": is_tracker,
            "tracker_counts": counted,
            "replaced": replaced,
            "coded_waves": selectors.waves_coded_with(codeframe=codeframe),
            "can_recode": _can_recode(codeframe),
            **_roles(request.user, codeframe.question.project_id),
        },
    )


def _can_recode(codeframe: Codeframe) -> bool:
    """Whether "Code this wave again" would be accepted (`waves.recode_with`)."""
    try:
        waves.recode_with(codeframe=codeframe)
    except CodeframeError:
        return False
    return True


@require_POST
@login_required
def codeframe_delete(request: HttpRequest, codeframe_id: int) -> HttpResponse:
    codeframe = selectors.get_codeframe(
        user=request.user, codeframe_id=codeframe_id, role=Role.MANAGER
    )
    question = codeframe.question
    try:
        services.delete_codeframe(codeframe=codeframe)
    except CodeframeError as exc:
        messages.error(request, str(exc))
        return redirect(codeframe)
    messages.success(request, f"Deleted codeframe #{codeframe_id}.")
    return redirect(question)


@require_GET
@login_required
def code_detail(request: HttpRequest, codeframe_id: int, code_id: int) -> HttpResponse:
    codeframe = selectors.get_codeframe(user=request.user, codeframe_id=codeframe_id)
    code = selectors.get_code(codeframe=codeframe, code_id=code_id)
    return render(
        request,
        "codeframe/code_detail.html",
        {
            "codeframe": codeframe,
            "code": code,
            "responses": selectors.code_responses(code=code),
            "second_responses": selectors.code_second_responses(code=code),
            "nets": list(codeframe.nets.order_by("number")),
            "move_form": MoveForm(codeframe=codeframe, exclude=code),
            "rename_form": RenameForm(initial={"label": code.label}),
            **_roles(request.user, codeframe.question.project_id),
        },
    )


@require_GET
@login_required
def codeframe_uncoded(request: HttpRequest, codeframe_id: int) -> HttpResponse:
    """The answers without a code ("Other"), each with a form to code it."""
    codeframe = selectors.get_codeframe(user=request.user, codeframe_id=codeframe_id)
    return render(
        request,
        "codeframe/uncoded.html",
        {
            "codeframe": codeframe,
            "responses": selectors.uncoded_responses(codeframe=codeframe),
            "uncoded": selectors.codeframe_overview(codeframe=codeframe).uncoded,
            "move_form": MoveForm(codeframe=codeframe),
            **_roles(request.user, codeframe.question.project_id),
        },
    )


@require_POST
@login_required
def code_rename(request: HttpRequest, codeframe_id: int, code_id: int) -> HttpResponse:
    codeframe = _editable(request, codeframe_id)
    code = selectors.get_code(codeframe=codeframe, code_id=code_id)
    return _relabel(request, codeframe, code, "code", partial(services.rename_code, code=code))


@require_POST
@login_required
def net_rename(request: HttpRequest, codeframe_id: int, net_id: int) -> HttpResponse:
    codeframe = _editable(request, codeframe_id)
    net = selectors.get_net(codeframe=codeframe, net_id=net_id)
    return _relabel(request, codeframe, net, "net", partial(services.rename_net, net=net))


def _relabel(request: HttpRequest, codeframe, thing, what: str, rename) -> HttpResponse:
    """A code's or a net's rename form: `rename(label=...)` on a valid label; a message."""
    form = RenameForm(request.POST)
    if form.is_valid():
        rename(label=form.cleaned_data["label"])
        messages.success(request, f"Renamed {what} {thing.number} to “{thing.label}”.")
    else:
        messages.error(request, "A label is 1 to 200 characters.")
    return _back(request, codeframe)


@require_POST
@login_required
def code_set_net(request: HttpRequest, codeframe_id: int, code_id: int) -> HttpResponse:
    """Move the code into another net of its codeframe (`net`: its id; empty: no net)."""
    codeframe = _editable(request, codeframe_id)
    code = selectors.get_code(codeframe=codeframe, code_id=code_id)
    wanted = request.POST.get("net", "")
    net = None
    if wanted:
        if not (wanted.isascii() and wanted.isdigit()):
            messages.error(request, "Choose a net of this codeframe.")
            return _back(request, codeframe)
        net = selectors.get_net(codeframe=codeframe, net_id=int(wanted))
    services.move_code_to_net(code=code, net=net)
    messages.success(
        request, f"Code {code.number} is now in {f'net {net.number}. {net}' if net else 'no net'}."
    )
    return _back(request, codeframe)


@require_POST
@login_required
def code_merge(request: HttpRequest, codeframe_id: int, code_id: int) -> HttpResponse:
    codeframe = _editable(request, codeframe_id)
    code = selectors.get_code(codeframe=codeframe, code_id=code_id)
    form = MergeForm(request.POST, codeframe=codeframe, exclude=code)
    if not form.is_valid():
        messages.error(request, "Choose another code of this codeframe to merge into.")
        return _back(request, codeframe)
    try:  # the target merged away by another analyst since the form checked it
        target = services.merge_codes(target=form.cleaned_data["target"], sources=[code])
    except InvalidEdit as exc:
        messages.error(request, str(exc))
        return _back(request, codeframe)
    messages.success(request, f"Merged code {code.number} into {target.number}. {target.label}.")
    return redirect(codeframe)


@require_POST
@login_required
def code_delete(request: HttpRequest, codeframe_id: int, code_id: int) -> HttpResponse:
    codeframe = _editable(request, codeframe_id)
    code = selectors.get_code(codeframe=codeframe, code_id=code_id)
    services.delete_code(code=code)
    messages.success(request, f"Deleted code {code.number}. {code.label}.")
    return redirect(codeframe)


@require_POST
@login_required
def response_move(request: HttpRequest, codeframe_id: int, response_id: int) -> HttpResponse:
    codeframe = _editable(request, codeframe_id)
    response = selectors.get_response(codeframe=codeframe, response_id=response_id)
    form = MoveForm(request.POST, codeframe=codeframe)
    if not form.is_valid():
        messages.error(request, "Choose a code of this codeframe.")
        return _back(request, codeframe)
    to_code = form.cleaned_data["to_code"]
    try:  # the code merged away by another analyst since the form checked it
        services.move_response(response=response, to_code=to_code)
    except InvalidEdit as exc:
        messages.error(request, str(exc))
        return _back(request, codeframe)
    messages.success(request, f"Moved answer {response.respondent_id} to {to_code}.")
    return _back(request, codeframe)


@require_POST
@login_required
def response_uncode(request: HttpRequest, codeframe_id: int, response_id: int) -> HttpResponse:
    """Leave the answer uncoded in this codeframe (it fits none of its codes)."""
    codeframe = _editable(request, codeframe_id)
    response = selectors.get_response(codeframe=codeframe, response_id=response_id)
    services.uncode_response(response=response, codeframe=codeframe)
    messages.success(request, f"Answer {response.respondent_id} is uncoded now.")
    return _back(request, codeframe)


@require_POST
@login_required
def code_add(request: HttpRequest, codeframe_id: int) -> HttpResponse:
    """A new code (`label`), numbered after every number the tracker used; with `response`
    (an answer's id), that answer is coded with it."""
    codeframe = _editable(request, codeframe_id)
    response = None
    if (wanted := request.POST.get("response", "")).isascii() and wanted.isdigit():
        response = selectors.get_response(codeframe=codeframe, response_id=int(wanted))
    try:
        code = waves.add_code(
            codeframe=codeframe, label=request.POST.get("label", ""), response=response
        )
    except CodeframeError as exc:
        messages.error(request, str(exc))
    else:
        coded = f", with answer {response.respondent_id}" if response is not None else ""
        messages.success(request, f"Added code {code.number}. {code.label}{coded}.")
    return _back(request, codeframe)


@require_POST
@login_required
def response_remove_second_code(
    request: HttpRequest, codeframe_id: int, response_id: int, code_id: int
) -> HttpResponse:
    codeframe = _editable(request, codeframe_id)
    response = selectors.get_response(codeframe=codeframe, response_id=response_id)
    code = selectors.get_code(codeframe=codeframe, code_id=code_id)
    try:
        services.remove_second_code(response=response, code=code)
    except CodeframeError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Answer {response.respondent_id} no longer carries {code}.")
    return _back(request, codeframe)


@require_GET
@login_required
def codeframe_export(request: HttpRequest, codeframe_id: int, fmt: str) -> HttpResponse:
    codeframe = selectors.get_codeframe(user=request.user, codeframe_id=codeframe_id)
    try:
        exporter = exports_http.requested_exporter(fmt, request.GET.get("layout"))
    except exports.UnknownLayout as exc:
        return HttpResponseBadRequest(str(exc))
    except exports.UnknownExport as exc:
        raise Http404(str(exc)) from exc
    return exports_http.attachment(codeframe=codeframe, exporter=exporter)


# --- Trackers: approving a frame, coding a new wave, suggestions, the tracker chart ------------


@require_POST
@login_required
def codeframe_approve(request: HttpRequest, codeframe_id: int) -> HttpResponse:
    codeframe = _editable(request, codeframe_id)
    approve = request.POST.get("approved", "1") == "1"
    try:
        waves.approve_codeframe(codeframe=codeframe, approved=approve)
    except CodeframeError as exc:  # replaced by the wave's newer codeframe
        messages.error(request, str(exc))
        return redirect(codeframe)
    messages.success(
        request,
        "Approved: it can code the next waves." if approve else "No longer approved.",
    )
    return redirect(codeframe)


@require_POST
@login_required
def codeframe_recode(request: HttpRequest, codeframe_id: int) -> HttpResponse:
    """Code this wave's answers again with its approved frame as it is now (a background job);
    the job's page hands over to the new codeframe."""
    codeframe = _editable(request, codeframe_id)
    try:
        job = jobs.queue_recode(codeframe=codeframe, user=request.user)
    except CodeframeError as exc:
        messages.error(request, str(exc))
        return redirect(codeframe)
    return redirect(job)


@login_required
@throttle_page(ImportThrottle)
def wave_new(request: HttpRequest, codeframe_id: int) -> HttpResponse:
    codeframe = _editable(request, codeframe_id)
    form = WaveForm()
    if request.method == "POST":
        form = WaveForm(request.POST, request.FILES)
        if not form.is_valid():
            refund(request)
        else:
            data = form.cleaned_data
            try:
                rows = _CountedRows(_wave_rows(data))
                job = jobs.queue_wave(
                    codeframe=codeframe, rows=rows, wave=data["wave"], user=request.user
                )
            except CodeframeError as exc:
                if not isinstance(exc, ImportFailed | TooManyResponses):
                    refund(request)  # the label, the frame's state: refused before the import
                form.add_error(None, str(exc))
            else:
                # As on the import page: a file without an id column is numbered by line, which
                # looks like serials but will not merge back (pasted answers: no notice).
                notice = services.id_notice(rows.numbered, option="“Respondent id column”")
                if notice and data.get("file") is not None:
                    messages.warning(request, notice)
                return redirect(job)
    return render(request, "codeframe/wave_new.html", {"codeframe": codeframe, "form": form})


class _CountedRows:
    """The rows of an upload, counting the answers without a respondent id as they are read;
    closed as the reader is (`services.import_responses` closes it)."""

    def __init__(self, rows) -> None:
        self.rows, self.numbered = rows, 0

    def __iter__(self):
        for row in self.rows:
            self.numbered += bool(row.text.strip()) and not row.respondent_id
            yield row

    def close(self) -> None:
        if (close := getattr(self.rows, "close", None)) is not None:
            close()


def _wave_rows(data: dict):
    upload = data.get("file")
    if upload is None:
        return read_pasted(data["pasted"])
    if upload.size > get_config()["MAX_UPLOAD_BYTES"]:
        raise UploadTooLarge("The file is larger than the upload limit.")
    return read_upload(
        upload,
        filename=upload.name,
        column=data.get("column") or None,
        id_column=data.get("id_column") or None,
        sheet=data.get("sheet") or None,
    )


@require_POST
@login_required
def suggestion_decide(
    request: HttpRequest, codeframe_id: int, suggestion_id: int, decision: str
) -> HttpResponse:
    if decision not in waves.DECISIONS:
        raise Http404("Suggestions are accepted, assigned to a code or dismissed.")
    codeframe = _editable(request, codeframe_id)
    suggestion = selectors.get_suggestion(codeframe=codeframe, suggestion_id=suggestion_id)
    form = AssignSuggestionForm(request.POST, codeframe=codeframe)
    code = form.cleaned_data["code"] if decision == "assign" and form.is_valid() else None
    try:
        taken = waves.decide_suggestion(
            suggestion=suggestion, decision=decision, label=request.POST.get("label"), code=code
        )
    except CodeframeError as exc:
        messages.error(request, str(exc))
        return redirect(codeframe)
    if decision == "accept":
        messages.success(request, f"Added code {taken.number}. {taken.label}.")
    elif decision == "assign":
        messages.success(request, f"Coded “{suggestion.label}” as {taken.number}. {taken.label}.")
    else:
        messages.info(request, f"Dismissed “{suggestion.label}”.")
    return redirect(codeframe)


CARRY_BACK_TITLES = {
    "renamed": "Renamed",
    "keywords": "Keywords changed",
    "moved": "Moved to another net",
    "net_renamed": "Nets renamed",
    "net_added": "Nets added",
    "added": "Added (accepted suggestions)",
    "merged": "Merged",
    "removed": "Deleted",
}


@require_http_methods(["GET", "POST"])
@login_required
def codeframe_carry_back(request: HttpRequest, codeframe_id: int) -> HttpResponse:
    """GET: the changes carrying this wave frame's edits back would make to its approved frame
    (and any conflicts); POST: make them, then show the approved frame."""
    codeframe = _editable(request, codeframe_id)
    try:
        if request.method == "POST":
            summary = carryback.carry_back(codeframe=codeframe)
            if summary.changes:
                messages.success(
                    request,
                    f"Carried back into approved codeframe #{summary.approved}: "
                    f"{summary.describe()}.",
                )
            else:
                messages.info(request, "Nothing to carry back: the frames already agree.")
            return redirect(codeframe.coded_with)
        summary = carryback.preview_carry_back(codeframe=codeframe)
    except NotAWaveFrame as exc:
        messages.error(request, str(exc))
        return redirect(codeframe)
    except CarryBackConflict as exc:
        messages.error(request, str(exc))
        return redirect("codeframe:codeframe-carry-back", codeframe.pk)
    return render(
        request,
        "codeframe/carry_back.html",
        {
            "codeframe": codeframe,
            "summary": summary,
            "groups": [
                (title, summary.of(kind))
                for kind, title in CARRY_BACK_TITLES.items()
                if summary.of(kind)
            ],
        },
    )


@require_GET
@login_required
def question_tracker(request: HttpRequest, question_id: int) -> HttpResponse:
    question = selectors.get_question(user=request.user, question_id=question_id)
    stem = slugify(question.survey)[:40] or "tracker"
    if request.GET.get("format") == "sav":
        # Every wave's answers stacked, with a wave variable: what the data processor loads.
        frames = waves.tracker_frames(question=question)
        content = exports.build_tracker_sav(question=question, waves=frames)
        response = HttpResponse(content, content_type=exports.SPSSExporter.media_type)
        response["Content-Disposition"] = f'attachment; filename="tracker-{stem}.sav"'
        return response
    table, nets, uncoded = waves.tracker_tables(question=question)
    if request.GET.get("format") == "csv":
        content = tracker.tracker_csv(table, nets=nets, uncoded=uncoded)
        response = HttpResponse(content, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="tracker-{stem}.csv"'
        return response
    # The charts' codes and nets: those ticked (?code=3&code=7, ?net=2; anything else ignored),
    # else the largest in the newest wave, as many as the palette has colours. Each picker's
    # form carries the other's ticks, so picking nets keeps the codes picked and back.
    picked, picked_nets = _ticked(request, "code", table), _ticked(request, "net", nets)
    # Waves not coded yet (queued, failed): the only ones without an uncoded share.
    pending = {w for w in uncoded.waves if uncoded.cells[(w, waves.UNCODED)].share is None}
    charted = picked or tracker.top_codes(table)
    charted_nets = picked_nets or tracker.top_codes(nets)
    low = table.low_bases()
    return render(
        request,
        "codeframe/tracker.html",
        {
            "question": question,
            "table": table,
            "rows": [(number, label, table.row(number)) for number, label in table.codes.items()],
            "uncoded_rows": [("", label, uncoded.row(n)) for n, label in uncoded.codes.items()],
            "chart": mark_safe(tracker.tracker_svg(table, codes=charted)),  # noqa: S308 - escaped
            "charted": charted,
            "picked": picked,
            "picked_nets": picked_nets,
            "bases": [
                {"n": table.bases[w], "low": w in low, "pending": w in pending} for w in table.waves
            ],
            "coded_waves": len(table.waves) - len(pending),
            "low_base": tracker.LOW_BASE if low else None,
            "charted_nets": charted_nets,
            "net_rows": [(number, label, nets.row(number)) for number, label in nets.codes.items()],
            "net_chart": mark_safe(  # noqa: S308 - built escaped
                tracker.tracker_svg(nets, codes=charted_nets, title="Share of answers per net")
            )
            if nets.codes
            else "",
        },
    )


def _ticked(request: HttpRequest, name: str, table) -> list[int]:
    """The numbers of `table` (a tracker.Tracker) ticked as ?name=N, in its order; anything
    that is not one of its numbers is ignored."""
    ticked = set(request.GET.getlist(name))
    return [number for number in table.codes if str(number) in ticked]


def _back(request: HttpRequest, codeframe) -> HttpResponse:
    """Back to the page the form was on (a page of this codeframe), else the codeframe."""
    target = request.POST.get("next", "")
    if target.startswith(codeframe.get_absolute_url()):
        return redirect(target)
    return redirect(codeframe)


def _editable(request: HttpRequest, codeframe_id: int):
    """The codeframe, for an edit: 404 outside the user's projects, 403 below analyst."""
    return selectors.get_codeframe(user=request.user, codeframe_id=codeframe_id, role=Role.ANALYST)


# --- Projects -------------------------------------------------------------------------------


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    """The user's projects; a POST creates one with the user as its manager."""
    services.personal_project(user=request.user)
    form = ProjectForm()
    if request.method == "POST":
        form = ProjectForm(request.POST)
        if form.is_valid():
            project = services.create_project(name=form.cleaned_data["name"], manager=request.user)
            messages.success(request, f"Created project “{project}”.")
            return redirect(project)
    return render(
        request,
        "codeframe/project_list.html",
        {"projects": selectors.user_projects(user=request.user), "form": form},
    )


@require_GET
@login_required
def project_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    project = selectors.get_project(user=request.user, project_id=project_id)
    page = Paginator(
        selectors.question_list(user=request.user, project=project), QUESTIONS_PER_PAGE
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "codeframe/project_detail.html",
        {
            "project": project,
            "questions": page.object_list,
            "page": page,
            "members": selectors.project_members(project=project),
            "member_form": MemberForm(),
            **_roles(request.user, project.pk),
        },
    )


@require_POST
@login_required
def project_member_set(request: HttpRequest, project_id: int) -> HttpResponse:
    """Add a member by username, or change a member's role (managers only)."""
    project = selectors.get_project(user=request.user, project_id=project_id, role=Role.MANAGER)
    form = MemberForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a username and a role.")
        return redirect(project)
    try:
        membership = services.set_member(
            project=project, username=form.cleaned_data["username"], role=form.cleaned_data["role"]
        )
    except CodeframeError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"{membership.user.get_username()} is now {membership.get_role_display()}."
        )
    return redirect(project)


@require_POST
@login_required
def project_member_remove(request: HttpRequest, project_id: int, user_id: int) -> HttpResponse:
    project = selectors.get_project(user=request.user, project_id=project_id, role=Role.MANAGER)
    membership = selectors.get_membership(project=project, user_id=user_id)
    try:
        services.remove_member(membership=membership)
    except CodeframeError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Removed {membership.user.get_username()} from the project.")
    return redirect(project)
