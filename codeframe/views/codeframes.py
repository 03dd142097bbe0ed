"""A codeframe's pages and the analysts' edits: codes and their answers, the uncoded answers
and the review queue (least sure first), renaming, nets, merging, moving, uncoding and
confirming answers, adding and deleting codes, exports."""

from functools import partial

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
)
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_GET, require_POST

from codeframe import exports, param_keys, search, selectors, services, waves
from codeframe.exceptions import (
    CodeframeError,
    InvalidEdit,
)
from codeframe.exports import http as exports_http
from codeframe.forms import (
    AddCodeForm,
    FindForm,
    MergeForm,
    MoveForm,
    RenameForm,
)
from codeframe.models import Role
from codeframe.suggestions import MIN_SUGGESTION_SIZE
from codeframe.validators import as_id
from codeframe.views.shared import back_to_form, editable_codeframe, refuse, roles_of


@require_GET
@login_required
def codeframe_detail(request: HttpRequest, codeframe_id: int) -> HttpResponse:
    codeframe = selectors.get_codeframe(user=request.user, codeframe_id=codeframe_id)
    overview = selectors.codeframe_overview(codeframe=codeframe, examples=True)
    is_tracker = selectors.is_tracker(question=codeframe.question)
    counted = None  # the wave's codeframe the tracker counts, when it is another one
    if is_tracker and (entry := waves.tracker_wave(question=codeframe.question)) is not None:
        counted = entry.codeframe if entry.codeframe != codeframe else None
    # Replaced when its wave was coded again: not to be approved (nor code later waves).
    replaced = counted is not None and waves.replaced_by(codeframe=codeframe) is not None
    suggestions = selectors.pending_suggestions(codeframe=codeframe)
    waves.mark_same_labels(suggestions, codes=overview.codes)
    return render(
        request,
        "codeframe/codeframe_detail.html",
        {
            "codeframe": codeframe,
            "overview": overview,
            "all_codes": overview.codes,
            "suggestions": suggestions,
            "is_tracker": is_tracker,
            "tracker_counts": counted,
            "replaced": replaced,
            "coded_waves": selectors.waves_coded_with(codeframe=codeframe),
            "can_recode": waves.can_recode(codeframe),
            "checked": selectors.checked_count(codeframe=codeframe),
            "min_suggestion": MIN_SUGGESTION_SIZE,
            "wave_refusal": waves.wave_refusal(codeframe=codeframe) if codeframe.approved else None,
            "empty_codes": [row.code for net in overview.nets for row in net.codes if row.empty],
            **roles_of(request.user, codeframe.question.project_id),
        },
    )


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
    try:
        code = selectors.get_code(codeframe=codeframe, code_id=code_id)
    except Http404:  # merged or deleted since the link was made (an open tab, a bookmark)
        merges = selectors.merges_of(codeframe=codeframe)
        number = param_keys.retired_number(codeframe.params, code_id)
        return render(
            request,
            "codeframe/code_gone.html",
            {
                "codeframe": codeframe,
                "merges": merges,
                "retired": bool(param_keys.retired(codeframe.params)),
                # Which code this was, and what became of it, when the frame recorded its id.
                "number": number,
                "into": param_keys.merges(codeframe.params).get(number),
                "holder": dict(merges).get(number),
            },
            status=404,
        )
    return render(
        request,
        "codeframe/code_detail.html",
        {
            "codeframe": codeframe,
            "code": code,
            "responses": selectors.code_responses(code=code),
            "second_responses": selectors.code_second_responses(code=code),
            # A wave's code: what the approved frame it was coded with shows for it, labelled.
            "approved_examples": selectors.approved_code_examples(codeframe=codeframe).get(
                code.number
            ),
            "nets": list(codeframe.nets.order_by("number")),
            "move_form": MoveForm(codeframe=codeframe, exclude=code),
            **roles_of(request.user, codeframe.question.project_id),
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
            "overview": selectors.codeframe_overview(codeframe=codeframe),
            "move_form": MoveForm(codeframe=codeframe),
            **roles_of(request.user, codeframe.question.project_id),
        },
    )


@require_GET
@login_required
def codeframe_review(request: HttpRequest, codeframe_id: int) -> HttpResponse:
    """The coded answers nobody has checked yet, least sure first, each with forms to confirm,
    move or uncode it."""
    codeframe = selectors.get_codeframe(user=request.user, codeframe_id=codeframe_id)
    return render(
        request,
        "codeframe/review.html",
        {
            "codeframe": codeframe,
            "queue": selectors.least_sure_answers(codeframe=codeframe),
            "move_form": MoveForm(codeframe=codeframe),
            **roles_of(request.user, codeframe.question.project_id),
        },
    )


@require_GET
@login_required
def codeframe_find(request: HttpRequest, codeframe_id: int) -> HttpResponse:
    """The answers with the words asked (`q`; `uncoded`: among the uncoded only), with their
    codes, each ticked, and a code to add to the ticked ones: code every answer that says
    "overdraft" at once, after unticking those that do not mean it."""
    codeframe = selectors.get_codeframe(user=request.user, codeframe_id=codeframe_id)
    form = FindForm(request.GET)
    found = None
    if form.is_valid() and form.cleaned_data["q"].strip():
        found = search.find_answers(
            codeframe=codeframe,
            query=form.cleaned_data["q"],
            uncoded_only=form.cleaned_data["uncoded"],
        )
    codes = list(codeframe.codes.order_by("number"))
    labels = {code.number: code.label for code in codes}
    unticked = _unticked(request)
    rows = [
        (
            answer,
            [(number, labels.get(number, "")) for number in answer.codes],
            answer.response_id not in unticked,
        )
        for answer in (found.answers if found else [])
    ]
    return render(
        request,
        "codeframe/find.html",
        {
            "codeframe": codeframe,
            "form": form,
            "found": found,
            "rows": rows,
            "codes": codes,
            **roles_of(request.user, codeframe.question.project_id),
        },
    )


@require_POST
@login_required
def answers_add_code(request: HttpRequest, codeframe_id: int) -> HttpResponse:
    """Add the code chosen to the answers ticked on the found answers' page (or with
    `remove`, take it off them). The page comes back with the answers the analyst unticked
    still unticked (`_UNTICKED`), whatever happened: ticked again, the next code would go to
    answers they had ruled out."""
    codeframe = editable_codeframe(request, codeframe_id)
    form = AddCodeForm(request.POST, codeframe=codeframe)
    # The answers listed, as one comma-joined field: a field each, 500 answers and their ticks
    # passed Django's DATA_UPLOAD_MAX_NUMBER_FIELDS (1,000), a bare 400 page.
    listed = ",".join(request.POST.getlist("shown")).split(",")[: search.FIND_LIMIT]
    shown = {pk for pk in map(as_id, listed) if pk is not None}
    ticked = {pk for pk in map(as_id, request.POST.getlist("response")) if pk is not None}
    request.session[_UNTICKED] = {
        "page": request.POST.get("next", ""),
        "ids": sorted(shown - ticked),
    }
    if not form.is_valid():
        if "response" in form.errors:
            messages.error(request, form.errors["response"][0])
        else:
            messages.error(request, form.refusal("Choose the code to add."))
        return back_to_form(request, codeframe)
    code, ticked_ids = form.cleaned_data["code"], form.cleaned_data["response"]
    try:
        if "remove" in request.POST:
            removed = services.remove_code_from_answers(code=code, response_ids=ticked_ids)
            said = f"Took code {code.number} (“{code.label}”) off {removed} answer"
            messages.success(request, f"{said}{pluralize(removed)}.")
        else:
            added = services.add_code_to_answers(code=code, response_ids=ticked_ids)
            messages.success(request, _added_message(added, code))
    except InvalidEdit as exc:
        messages.error(request, str(exc))
    return back_to_form(request, codeframe)


# The session key of the answers unticked on the found answers' page, and the page (its URL
# with the query) they were unticked on.
_UNTICKED = "codeframe-find-unticked"


def _unticked(request: HttpRequest) -> set[int]:
    """The answers the analyst unticked on this very page (same search) before an Add code."""
    kept = request.session.get(_UNTICKED) or {}
    return set(kept.get("ids", ())) if kept.get("page") == request.get_full_path() else set()


def _added_message(added: services.CodesAdded, code) -> str:
    """What Add code did, e.g. "Coded 3 answers with code 5 (“Fees”): 1 as its primary code, 2
    as a further code beside their primary; 1 had it already (...)"."""
    coded = added.primary + added.further
    parts = [
        f"{n} as {what}"
        for n, what in (
            (added.primary, "its primary code"),
            (added.further, "a further code beside their primary"),
        )
        if n
    ]
    said = f"code {code.number} (“{code.label}”)"
    if coded:
        said = f"Coded {coded} answer{pluralize(coded)} with {said}: {', '.join(parts)}"
    else:
        said = f"Nothing new to code with {said}"
    if added.had_it:
        said += f"; {added.had_it} had it already (now counted as coded by hand too)"
    return f"{said}."


def _edited_code(request: HttpRequest, codeframe, code_id: int):
    """The code an edit form names, or None (after a message) when it was merged or deleted
    since the page was read (a second click, another tab or analyst): the edit then goes
    back to the page instead of Django's bare 404. A code this codeframe never had is a 404."""
    try:
        return selectors.get_code(codeframe=codeframe, code_id=code_id)
    except Http404:
        if not param_keys.retired(codeframe.params):
            raise
    messages.error(
        request, "That code was merged or deleted since the page was read: nothing was changed."
    )
    return None


@require_POST
@login_required
def code_rename(request: HttpRequest, codeframe_id: int, code_id: int) -> HttpResponse:
    codeframe = editable_codeframe(request, codeframe_id)
    if (code := _edited_code(request, codeframe, code_id)) is None:
        return back_to_form(request, codeframe)
    return _relabel(request, codeframe, code, "code", partial(services.rename_code, code=code))


@require_POST
@login_required
def net_rename(request: HttpRequest, codeframe_id: int, net_id: int) -> HttpResponse:
    codeframe = editable_codeframe(request, codeframe_id)
    net = selectors.get_net(codeframe=codeframe, net_id=net_id)
    return _relabel(request, codeframe, net, "net", partial(services.rename_net, net=net))


def _relabel(request: HttpRequest, codeframe, thing, what: str, rename) -> HttpResponse:
    """A code's or a net's rename form: `rename(label=...)` on a valid label; a message."""
    form = RenameForm(request.POST)
    if not form.is_valid():
        return refuse(request, "A label is 1 to 200 characters.", back_to_form(request, codeframe))
    try:
        rename(label=form.cleaned_data["label"])
    except CodeframeError as exc:  # a label another code (net) of the frame has
        return refuse(request, str(exc), back_to_form(request, codeframe))
    messages.success(request, f"Renamed {what} {thing.number} to “{thing.label}”.")
    return back_to_form(request, codeframe)


@require_POST
@login_required
def code_set_net(request: HttpRequest, codeframe_id: int, code_id: int) -> HttpResponse:
    """Move the code into another net of its codeframe (`net`: its id; empty: no net)."""
    codeframe = editable_codeframe(request, codeframe_id)
    if (code := _edited_code(request, codeframe, code_id)) is None:
        return back_to_form(request, codeframe)
    wanted = request.POST.get("net", "")
    net = None
    if wanted:
        if (net_id := as_id(wanted)) is None:
            return refuse(
                request, "Choose a net of this codeframe.", back_to_form(request, codeframe)
            )
        net = selectors.get_net(codeframe=codeframe, net_id=net_id)
    services.move_code_to_net(code=code, net=net)
    messages.success(
        request, f"Code {code.number} is now in {f'net {net.number}. {net}' if net else 'no net'}."
    )
    return back_to_form(request, codeframe)


@require_POST
@login_required
def code_merge(request: HttpRequest, codeframe_id: int, code_id: int) -> HttpResponse:
    codeframe = editable_codeframe(request, codeframe_id)
    if (code := _edited_code(request, codeframe, code_id)) is None:
        return back_to_form(request, codeframe)
    form = MergeForm(request.POST, codeframe=codeframe, exclude=code)
    if not form.is_valid():
        refusal = form.refusal("Choose another code of this codeframe to merge into.")
        return refuse(request, refusal, back_to_form(request, codeframe))
    try:  # the target merged away by another analyst since the form checked it
        target = services.merge_codes(target=form.cleaned_data["target"], sources=[code])
    except InvalidEdit as exc:
        return refuse(request, str(exc), back_to_form(request, codeframe))
    messages.success(request, f"Merged code {code.number} into {target.number}. {target.label}.")
    return redirect(codeframe)


@require_POST
@login_required
def code_delete(request: HttpRequest, codeframe_id: int, code_id: int) -> HttpResponse:
    codeframe = editable_codeframe(request, codeframe_id)
    if (code := _edited_code(request, codeframe, code_id)) is None:
        return back_to_form(request, codeframe)
    services.delete_code(code=code)
    messages.success(request, f"Deleted code {code.number}. {code.label}.")
    return redirect(codeframe)


@require_POST
@login_required
def response_move(request: HttpRequest, codeframe_id: int, response_id: int) -> HttpResponse:
    codeframe = editable_codeframe(request, codeframe_id)
    response = selectors.get_response(codeframe=codeframe, response_id=response_id)
    form = MoveForm(request.POST, codeframe=codeframe)
    if not form.is_valid():
        refusal = form.refusal("Choose a code of this codeframe.")
        return refuse(request, refusal, back_to_form(request, codeframe))
    to_code = form.cleaned_data["to_code"]
    try:  # the code merged away by another analyst since the form checked it
        services.move_response(response=response, to_code=to_code)
    except InvalidEdit as exc:
        return refuse(request, str(exc), back_to_form(request, codeframe))
    messages.success(request, f"Moved answer {response.respondent_id} to {to_code}.")
    return back_to_form(request, codeframe)


@require_POST
@login_required
def response_uncode(request: HttpRequest, codeframe_id: int, response_id: int) -> HttpResponse:
    """Leave the answer uncoded in this codeframe (it fits none of its codes)."""
    codeframe = editable_codeframe(request, codeframe_id)
    response = selectors.get_response(codeframe=codeframe, response_id=response_id)
    services.uncode_response(response=response, codeframe=codeframe)
    messages.success(request, f"Answer {response.respondent_id} is uncoded now.")
    return back_to_form(request, codeframe)


@require_POST
@login_required
def response_confirm(request: HttpRequest, codeframe_id: int, response_id: int) -> HttpResponse:
    """The answer's codes are right: they count as set by hand (kept when the wave is coded
    again) and the review queue moves on."""
    codeframe = editable_codeframe(request, codeframe_id)
    response = selectors.get_response(codeframe=codeframe, response_id=response_id)
    try:
        services.confirm_coding(response=response, codeframe=codeframe)
    except InvalidEdit as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Answer {response.respondent_id}: coding confirmed.")
    return back_to_form(request, codeframe)


@require_POST
@login_required
def response_release(request: HttpRequest, codeframe_id: int, response_id: int) -> HttpResponse:
    """Undo "by hand" (`services.release_coding`): coding the wave again decides the answer's
    codes, and the review page lists it again."""
    codeframe = editable_codeframe(request, codeframe_id)
    response = selectors.get_response(codeframe=codeframe, response_id=response_id)
    if services.release_coding(response=response, codeframe=codeframe):
        then = []
        if codeframe.coded_with_id:  # a wave's frame: coding it again is what by hand held
            then.append("coding the wave again decides its codes")
        if selectors.answer_coding(codeframe=codeframe, response=response).codes:
            then.append("the review page lists it again")  # it lists coded answers only
        messages.success(
            request,
            f"Answer {response.respondent_id} is no longer coded by hand"
            + (f": {' and '.join(then)}." if then else "."),
        )
    else:
        messages.info(request, f"Answer {response.respondent_id} was not coded by hand.")
    return back_to_form(request, codeframe)


@require_POST
@login_required
def review_confirm_all(request: HttpRequest, codeframe_id: int) -> HttpResponse:
    """The answers the review page listed (`response`, repeated) are right as they are coded:
    each counts as coded by hand, and the queue moves on to the next least sure."""
    codeframe = editable_codeframe(request, codeframe_id)
    # Ids are database integers: 30 digits overflowed SQLite's (a 500), 5,000 Python's
    # int() limit. No answer has such an id.
    wanted = [as_id(pk) for pk in request.POST.getlist("response")]
    if not wanted or None in wanted:
        messages.error(request, "No answers to confirm.")
        return redirect("codeframe:codeframe-review", codeframe.pk)
    confirmed = services.confirm_codings(codeframe=codeframe, response_ids=wanted)
    messages.success(request, f"Confirmed the codes of {confirmed} answer{pluralize(confirmed)}.")
    return redirect("codeframe:codeframe-review", codeframe.pk)


@require_POST
@login_required
def code_add(request: HttpRequest, codeframe_id: int) -> HttpResponse:
    """A new code (`label`), numbered after every number the tracker used; with `response`
    (an answer's id), that answer is coded with it."""
    codeframe = editable_codeframe(request, codeframe_id)
    response = None
    if (wanted := as_id(request.POST.get("response", ""))) is not None:
        response = selectors.get_response(codeframe=codeframe, response_id=wanted)
    try:
        code = waves.add_code(
            codeframe=codeframe, label=request.POST.get("label", ""), response=response
        )
    except CodeframeError as exc:  # no label, or one another code has
        return refuse(request, str(exc), back_to_form(request, codeframe))
    coded = f", with answer {response.respondent_id}" if response is not None else ""
    messages.success(request, f"Added code {code.number}. {code.label}{coded}.")
    return back_to_form(request, codeframe)


@require_POST
@login_required
def response_remove_second_code(
    request: HttpRequest, codeframe_id: int, response_id: int, code_id: int
) -> HttpResponse:
    codeframe = editable_codeframe(request, codeframe_id)
    response = selectors.get_response(codeframe=codeframe, response_id=response_id)
    if (code := _edited_code(request, codeframe, code_id)) is None:
        return back_to_form(request, codeframe)
    try:
        services.remove_second_code(response=response, code=code)
    except CodeframeError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Answer {response.respondent_id} no longer carries {code}.")
    return back_to_form(request, codeframe)


@require_GET
@login_required
def codeframe_export(request: HttpRequest, codeframe_id: int, fmt: str) -> HttpResponse:
    codeframe = selectors.get_codeframe(user=request.user, codeframe_id=codeframe_id)
    try:
        exporter = exports.get_exporter(fmt, request.GET.get("layout"))
    except exports.UnknownLayout as exc:
        return HttpResponseBadRequest(str(exc))
    except exports.UnknownExport as exc:
        raise Http404(str(exc)) from exc
    return exports_http.attachment(codeframe=codeframe, exporter=exporter)
