"""Trackers: approving a frame, coding a new wave, suggested new codes, carrying edits back,
and the tracker's chart and table."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from codeframe import carryback, exports, jobs, selectors, services, tracker, waves
from codeframe.conf import get_config
from codeframe.exceptions import (
    CarryBackConflict,
    CodeframeError,
    ImportFailed,
    NotAWaveFrame,
    TooManyResponses,
)
from codeframe.exports import http as exports_http
from codeframe.forms import (
    AssignSuggestionForm,
    WaveForm,
)
from codeframe.importers import read_pasted, read_upload
from codeframe.throttling import GenerationThrottle, ImportThrottle, refund, throttle_page
from codeframe.uploads import limit_upload
from codeframe.views.shared import editable_codeframe, refuse


@require_POST
@login_required
def codeframe_approve(request: HttpRequest, codeframe_id: int) -> HttpResponse:
    codeframe = editable_codeframe(request, codeframe_id)
    approve = request.POST.get("approved", "1") == "1"
    try:
        waves.approve_codeframe(codeframe=codeframe, approved=approve)
    except CodeframeError as exc:  # replaced by the wave's newer codeframe
        messages.error(request, str(exc))
        return redirect(codeframe)
    if not approve:
        messages.success(request, "No longer approved.")
    elif (refusal := waves.wave_refusal(codeframe=codeframe)) is not None:
        messages.warning(request, f"Approved, but it cannot code waves: {refusal}")
    else:
        messages.success(request, "Approved: it can code the next waves.")
    return redirect(codeframe)


@require_POST
@login_required
def codeframe_recode(request: HttpRequest, codeframe_id: int) -> HttpResponse:
    """Code this wave's answers again with its approved frame as it is now (a background job);
    the job's page hands over to the new codeframe."""
    codeframe = editable_codeframe(request, codeframe_id)
    try:
        job = jobs.queue_recode(
            codeframe=codeframe,
            user=request.user,
            discard_edits=request.POST.get("discard_edits") == "on",
        )
    except CodeframeError as exc:
        messages.error(request, str(exc))
        return redirect(codeframe)
    return redirect(job)


def _wave_too_large(request, message: str, kept, codeframe_id: int) -> HttpResponse:
    """The page again with `message` and what was typed (`kept`), the file excepted."""
    codeframe = editable_codeframe(request, codeframe_id)
    form = WaveForm(places=waves.wave_places(question=codeframe.question))
    form.initial.update({name: kept[name] for name in form.fields if name in kept})
    context = {
        "codeframe": codeframe,
        "form": form,
        "limit": get_config()["MAX_UPLOAD_BYTES"],
        "upload_error": message,
    }
    return render(request, "codeframe/wave_new.html", context, status=413)


@csrf_exempt  # checked by limit_upload's view, after the size limits are in place
@login_required
@limit_upload(_wave_too_large)
@throttle_page(GenerationThrottle, ImportThrottle)  # a coding job, as the API's waves
def wave_new(request: HttpRequest, codeframe_id: int) -> HttpResponse:
    codeframe = editable_codeframe(request, codeframe_id)
    if (refusal := waves.wave_refusal(codeframe=codeframe)) is not None:
        # Said before the form is filled in, not after: the codeframe page offers no such
        # link, but a bookmark or an approval withdrawn in another tab still leads here.
        messages.error(request, refusal)
        return redirect(codeframe)
    places = waves.wave_places(question=codeframe.question)
    form = WaveForm(places=places)
    if request.method == "POST":
        form = WaveForm(request.POST, request.FILES, places=places)
        if not form.is_valid():
            refund(request)
        else:
            data = form.cleaned_data
            try:
                rows = _CountedRows(_wave_rows(data))
                job = jobs.queue_wave(
                    codeframe=codeframe,
                    rows=rows,
                    wave=data["wave"],
                    user=request.user,
                    order=data.get("order"),
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
    return render(
        request,
        "codeframe/wave_new.html",
        {
            "codeframe": codeframe,
            "form": form,
            "limit": get_config()["MAX_UPLOAD_BYTES"],
            "empty_codes": waves.empty_codes(codeframe=codeframe),
        },
    )


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
    codeframe = editable_codeframe(request, codeframe_id)
    try:
        suggestion = selectors.get_suggestion(codeframe=codeframe, suggestion_id=suggestion_id)
    except Http404:  # its answers were coded by hand since (`services.drop_from_suggestions`)
        messages.error(request, "That suggestion is gone: its answers were coded by hand since.")
        return redirect(codeframe)
    form = AssignSuggestionForm(request.POST, codeframe=codeframe)
    code = form.cleaned_data["code"] if decision == "assign" and form.is_valid() else None
    if decision == "assign" and code is None:
        refusal = form.refusal("Choose one of this codeframe's codes.")
        return refuse(request, refusal, redirect(codeframe))
    try:
        taken = waves.decide_suggestion(
            suggestion=suggestion, decision=decision, label=request.POST.get("label"), code=code
        )
    except CodeframeError as exc:  # a label that is blank or another code's
        return refuse(request, str(exc), redirect(codeframe))
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
    "added": "Added (accepted suggestions and codes added by hand)",
    "merged": "Merged",
    "removed": "Deleted",
    "taught": "Taught (this wave's answers coded in them by hand, as their examples)",
}


@require_http_methods(["GET", "POST"])
@login_required
def codeframe_carry_back(request: HttpRequest, codeframe_id: int) -> HttpResponse:
    """GET: the changes carrying this wave frame's edits back would make to its approved frame
    (and any conflicts); POST: make them, then show the approved frame."""
    codeframe = editable_codeframe(request, codeframe_id)
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
            "few_answers": carryback.FEW_ANSWERS,
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
    if fmt := request.GET.get("format"):  # one of the page's downloads (TRACKER_EXPORTERS)
        try:
            exporter = exports.get_tracker_exporter(fmt)
        except exports.UnknownExport as exc:  # was the page, 200: a script never knew
            raise Http404(str(exc)) from exc
        return exports_http.tracker_attachment(question=question, exporter=exporter)
    table, nets, uncoded = waves.tracker_tables(question=question)
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
            "chart": mark_safe(  # noqa: S308 - built escaped
                tracker.tracker_svg(table, codes=charted, described_by="tracker-table")
            ),
            "charted": charted,
            "picked": picked,
            "picked_nets": picked_nets,
            "bases": [
                {
                    "n": table.bases[w],
                    "low": w in low,
                    "pending": w in pending,
                    "shared": table.shared.get(w, 0),
                    "late": table.late.get(w, 0),
                }
                for w in table.waves
            ],
            "coded_waves": len(table.waves) - len(pending),
            "low_base": tracker.LOW_BASE if low else None,
            "charted_nets": charted_nets,
            "net_rows": [(number, label, nets.row(number)) for number, label in nets.codes.items()],
            "net_chart": mark_safe(  # noqa: S308 - built escaped
                tracker.tracker_svg(
                    nets,
                    codes=charted_nets,
                    title="Share of answers per net",
                    described_by="tracker-net-table",
                )
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
