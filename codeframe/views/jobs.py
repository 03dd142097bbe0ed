"""A background job's page: its progress (followed until it ends), cancel, retry."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_GET, require_POST

from codeframe import jobs, selectors
from codeframe.exceptions import (
    CodeframeError,
)
from codeframe.models import Role
from codeframe.throttling import GenerationThrottle, refund, throttle_page
from codeframe.views.shared import roles_of


@require_GET
@login_required
def job_detail(request: HttpRequest, job_id) -> HttpResponse:
    """The job's progress, followed by a short script (without JavaScript, a refresh) until it
    ends; then it hands over to the codeframe. `?part=status` is the job's figures alone, what
    the script reads: no page around them, so it uses up no message meant for the next page."""
    try:
        job = selectors.get_job(user=request.user, job_id=job_id)
    except Http404:  # deleted with its question while its page followed it: say so
        return render(request, "codeframe/job_gone.html", status=404)
    # Only once it is the user's: a page of another project's job must not change it.
    if jobs.recover_stale_jobs(job_ids=[job.pk]):
        job = selectors.get_job(user=request.user, job_id=job.pk)
    if job.state == job.State.DONE and job.codeframe_id and "stay" not in request.GET:
        codeframe = job.codeframe
        if job.kind == job.Kind.WAVE:
            overview = selectors.codeframe_overview(codeframe=codeframe)
            suggested = len(selectors.pending_suggestions(codeframe=codeframe))
            messages.success(
                request,
                f"Wave {codeframe.question.wave_label} coded with codeframe "
                f"#{codeframe.coded_with_id}: {overview.base - overview.uncoded} of "
                f"{overview.total} answers coded, {suggested} suggested new "
                f"code{pluralize(suggested)}.",
            )
            # The wave's ids made resp_id a string: its page said so while the job ran.
            if notice := job.params.get("notice"):
                messages.warning(request, notice)
        else:
            codes = codeframe.codes.count()
            messages.success(request, f"Codeframe generated: {codes} code{pluralize(codes)}.")
        return redirect(codeframe)
    return render(
        request,
        "codeframe/_job_status.html"
        if request.GET.get("part") == "status"
        else "codeframe/job_detail.html",
        {
            "job": job,
            "question": job.question,
            # A job retried (or a generation queued again, a wave coded again) since: no Retry,
            # which `jobs.retry_job` would refuse (a wave is coded once at a time).
            "later": jobs.later_job(job),
            **roles_of(request.user, job.question.project_id),
        },
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
