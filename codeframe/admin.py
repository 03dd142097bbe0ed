"""Admin pages. Edits that must keep sizes and primary codes consistent go through services.

Staff who are not superusers see only their projects' objects (the same `codeframe.scoping`
as the pages), change them as analysts and delete them as managers; their Django model
permissions still apply on top.
"""

from collections.abc import Iterable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, OuterRef, QuerySet
from django.http import HttpRequest
from django.shortcuts import redirect

from codeframe import jobs, scoping, services, waves
from codeframe.admin_reach import OPERATOR_FIELDS, operators_only_lookup
from codeframe.exceptions import CodeframeError
from codeframe.models import (
    Assignment,
    Code,
    Codeframe,
    GenerationJob,
    Membership,
    Net,
    Project,
    Question,
    Response,
    Role,
    SuggestedCode,
)
from codeframe.selectors import subquery_count
from codeframe.validators import label_key, one_line

# Sidebar filters take their choices from the admin's scoped queryset. Django's defaults for a
# foreign key (RelatedFieldListFilter) and for a field across one (AllValuesFieldListFilter on
# "question__survey") read the whole related table: every project's objects.
_related_only = admin.RelatedOnlyFieldListFilter


class ScopedValuesFilter(admin.AllValuesFieldListFilter):
    """The values of a field, or of a field across relations, among the objects the admin
    shows the user."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        self.lookup_choices = (
            model_admin.get_queryset(request)
            .distinct()
            .order_by(field_path)
            .values_list(field_path, flat=True)
        )


class ScopedRawIdWidget(ForeignKeyRawIdWidget):
    """A raw-id field whose label (the object's name, printed beside the typed id) is looked up
    among `queryset` only: Django's looks on the whole table, so typing another client's
    question or code id printed its survey, question text or label."""

    def __init__(self, rel, admin_site, *, queryset: QuerySet, **kwargs) -> None:
        super().__init__(rel, admin_site, **kwargs)
        self.queryset = queryset

    def label_and_url_for_value(self, value):
        key = self.rel.get_related_field().name
        try:
            visible = self.queryset.filter(**{key: value}).exists()
        except (ValueError, TypeError, OverflowError, ValidationError):
            visible = False
        return super().label_and_url_for_value(value) if visible else ("", "")


class ScopedForeignKeys:
    """Foreign keys of an admin form (or inline) offer, and name, only what the user may see:
    objects of their projects (at least analyst); a user is named only when they share a
    project with the user (a manager may still add anyone by id, as the pages add anyone by
    username)."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is None:
            return field
        named = field.queryset
        if db_field.related_model in scoping.PATHS:
            field.queryset = named = scoping.scope(field.queryset, request.user, role=Role.ANALYST)
        elif db_field.related_model is get_user_model() and not request.user.is_superuser:
            named = named.filter(memberships__project__in=scoping.projects_for(request.user))
        if isinstance(field.widget, ForeignKeyRawIdWidget):
            field.widget = ScopedRawIdWidget(db_field.remote_field, self.admin_site, queryset=named)
        return field


class ScopedAdmin(ScopedForeignKeys, admin.ModelAdmin):
    """A model admin that shows a non-superuser only the objects of their projects, and
    figures of the shared embedding cache (`OPERATOR_FIELDS`) to operators only."""

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return scoping.scope(super().get_queryset(request), request.user)

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        operator = request is not None and scoping.is_operator(request.user)
        if not operator and operators_only_lookup(self.model, lookup, value):
            return False
        return super().lookup_allowed(lookup, value, request)

    def hidden_from(self, request: HttpRequest) -> frozenset[str]:
        """The fields and columns `request.user` is not shown."""
        if scoping.is_operator(request.user):
            return frozenset()
        return OPERATOR_FIELDS.get(self.model, frozenset())

    def get_list_display(self, request: HttpRequest):
        hidden = self.hidden_from(request)
        return [name for name in super().get_list_display(request) if name not in hidden]

    def get_fields(self, request: HttpRequest, obj=None):
        hidden = self.hidden_from(request)
        return [name for name in super().get_fields(request, obj) if name not in hidden]

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_change_permission(request, obj) and (
            obj is None or self.is_analyst_of(request, obj)
        )

    def is_analyst_of(self, request: HttpRequest, obj: Model) -> bool:
        """Whether the user may change `obj`: at least analyst of its project, as on the pages."""
        return scoping.has_role(request.user, scoping.project_id_of(obj), Role.ANALYST)

    def refuse_unless_analyst(self, request: HttpRequest, objects: Iterable[Model]) -> bool:
        """For a bulk action: True, after an error message, when the user is not at least
        analyst of the project of every one of `objects` (the action must then change
        nothing). Viewers see the objects in the changelist; the pages answer them 403."""
        for project_id in {scoping.project_id_of(obj) for obj in objects}:
            try:
                scoping.require_role(request.user, project_id, Role.ANALYST)
            except PermissionDenied as exc:
                self.message_user(request, f"{exc} Nothing was changed.", messages.ERROR)
                return True
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and (
            obj is None or scoping.has_role(request.user, scoping.project_id_of(obj), Role.MANAGER)
        )


class ServiceDeletes:
    """Deletes through `delete_through(obj)` (a service), as the pages delete: Django's own
    delete skipped what the services do (a wave's accepted code numbers reserved, so no later
    code of the tracker takes one already in exports; a wave being coded kept). A refusal is
    an error message instead of the success one."""

    def delete_through(self, obj) -> None:
        raise NotImplementedError

    def delete_model(self, request: HttpRequest, obj) -> None:
        try:
            self.delete_through(obj)
        except CodeframeError as exc:
            request._delete_refused = True
            self.message_user(request, str(exc), messages.ERROR)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for obj in list(queryset):
            self.delete_model(request, obj)

    def response_delete(self, request: HttpRequest, obj_display, obj_id):
        if getattr(request, "_delete_refused", False):
            return redirect(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", obj_id)
        return super().response_delete(request, obj_display, obj_id)


class MembersFormSet(forms.BaseInlineFormSet):
    """A project with a manager keeps one (as `services.set_member` / `remove_member` refuse
    on the pages): the last manager made a viewer, or deleted, left a client's project that
    only a superuser could run again."""

    def clean(self) -> None:
        super().clean()
        project = self.instance
        if project.pk is None or not project.memberships.filter(role=Role.MANAGER).exists():
            return  # none before (the shared Default project): nothing to keep
        kept = [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and form.cleaned_data.get("user")
        ]
        if not any(data.get("role") == Role.MANAGER for data in kept):
            raise forms.ValidationError(
                "A project needs at least one manager; make someone else one first."
            )


class MembershipInline(ScopedForeignKeys, admin.TabularInline):
    model = Membership
    formset = MembersFormSet
    fields = ["user", "role"]
    raw_id_fields = ["user"]
    extra = 1

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        # A personal project is its owner's alone (services.set_member refuses others too).
        return super().has_add_permission(request, obj) and (
            obj is None or obj.personal_for_id is None
        )


@admin.register(Project)
class ProjectAdmin(ScopedAdmin):
    list_display = ["name", "personal_for", "created"]
    list_select_related = ["personal_for"]
    search_fields = ["name"]
    # Made by the app only (services.personal_project): marking a project personal for someone
    # would send their uploads into it.
    readonly_fields = ["personal_for"]
    inlines = [MembershipInline]

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # Changing a project is changing its members: managers only.
        return admin.ModelAdmin.has_change_permission(self, request, obj) and (
            obj is None or scoping.has_role(request.user, obj.pk, Role.MANAGER)
        )


@admin.register(Question)
class QuestionAdmin(ServiceDeletes, ScopedAdmin):
    # A tracker's waves share survey and text: the wave tells its rows apart.
    list_display = ["survey", "text", "wave", "project", "answers", "created"]
    list_select_related = ["project"]
    search_fields = ["survey", "text", "wave_label"]
    list_filter = [
        "created",
        ("project", _related_only),
        ("survey", ScopedValuesFilter),
        ("wave_label", ScopedValuesFilter),
    ]
    date_hierarchy = "created"
    # A tracker's waves are made, numbered and named by the app (codeframe.waves: labels unique
    # in the tracker, numbers given out under its lock); rename a wave on its page.
    readonly_fields = ["tracker", "wave_order", "wave_label"]

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        # A question stays in its project, as on the pages (which cannot move one): moved by
        # staff, its answers and codeframes went to another client's project, and an analyst
        # of both could take a question out of the project its manager runs. A superuser may
        # move one imported into the wrong project, but not a tracker's wave: it would show
        # in another project's tracker.
        if obj is not None and (
            not request.user.is_superuser or obj.tracker_id or obj.later_waves.exists()
        ):
            fields.append("project")
        return fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(answer_count=subquery_count(Response, question=OuterRef("pk")))
        )

    @admin.display(ordering="answer_count")
    def answers(self, obj: Question) -> int:
        return obj.answer_count

    @admin.display(ordering="wave_order")
    def wave(self, obj: Question) -> str | None:
        return obj.wave_name or None  # its label, else its number; None: no tracker's wave

    def delete_through(self, obj: Question) -> None:
        services.delete_question(question=obj)


class ResponseForm(forms.ModelForm):
    """An answer's respondent id, as the import has it: given, and no other answer of its
    question's (exports are merged back onto the survey file by it)."""

    def clean_respondent_id(self) -> str:
        respondent = self.cleaned_data["respondent_id"].strip()
        if not respondent:
            raise ValidationError("An answer needs its respondent id: exports are merged by it.")
        return respondent

    def clean(self) -> dict:
        data = super().clean()
        question = self.instance.question if self.instance.question_id else data.get("question")
        respondent = data.get("respondent_id")
        if question is not None and respondent:
            taken = question.responses.filter(respondent_id=respondent).exclude(pk=self.instance.pk)
            if taken.exists():
                self.add_error(
                    "respondent_id",
                    f"Another answer of this question has respondent id {respondent}.",
                )
        return data


@admin.register(Response)
class ResponseAdmin(ScopedAdmin):
    form = ResponseForm
    list_display = ["respondent_id", "text", "question", "position"]
    search_fields = ["text", "respondent_id", "question__survey"]
    list_filter = [("question__survey", ScopedValuesFilter), ("question", _related_only)]
    list_select_related = ["question"]
    raw_id_fields = ["question"]

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        # An answer stays in its question: moved, it kept its codes in the old question's
        # codeframes (shown there to another client's project, and beyond the page's reach).
        if obj is not None:
            fields += ["question", "position"]
        return fields

    def save_model(self, request: HttpRequest, obj: Response, form, change: bool) -> None:
        """As an import does: an id that is no whole number, added or typed here, turns
        `resp_id` into a string in every SPSS file of the question's tracker, and is said."""
        if change and "respondent_id" not in form.changed_data:
            super().save_model(request, obj, form, change)
            return
        numeric = waves.had_numeric_ids(question=obj.question)
        super().save_model(request, obj, form, change)
        if notice := waves.string_ids_notice(question=obj.question, had_numeric=numeric):
            self.message_user(request, notice, messages.WARNING)

    def delete_model(self, request: HttpRequest, obj: Response) -> None:
        self.delete_queryset(request, Response.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Response]) -> None:
        """The answers go with their codes; their codeframes' sizes and suggestions follow (as
        after an edit on the pages), or a code counted answers no longer there."""
        gone = dict(queryset.values_list("pk", "question_id"))
        frames = list(Codeframe.objects.filter(question_id__in=set(gone.values())))
        super().delete_queryset(request, queryset)
        for frame in frames:
            services.drop_from_suggestions(codeframe_id=frame.pk, response_ids=set(gone))
            services.refresh_sizes(codeframe=frame)


class OwnLabelForm(forms.ModelForm):
    """A code's (net's) label is none of its codeframe's other codes' (nets'), ignoring case,
    as on the pages (`services.refuse_taken_label`): the exports could not tell two apart."""

    def clean_label(self) -> str:
        label = self.cleaned_data["label"]
        if "label" in self.changed_data:
            model = type(self.instance)
            others = model.objects.filter(codeframe_id=self.instance.codeframe_id)
            try:
                services.refuse_taken_label(others.exclude(pk=self.instance.pk), label)
            except CodeframeError as exc:
                raise ValidationError(str(exc)) from exc
        return label


class CodeForm(OwnLabelForm):
    """A code's net is one of its own codeframe's: the only choices offered, and the only ones
    that validate. (The admin supplies the model and the fields.)"""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "net" in self.fields:
            self.fields["net"].queryset = self.fields["net"].queryset.filter(
                codeframe_id=self.instance.codeframe_id
            )


class InlineCodeForm(CodeForm):
    def clean_label(self) -> str:
        label = self.cleaned_data["label"]
        one_line(label)  # the formset compares the page's labels at once
        return label


class CodeLabelsFormSet(forms.BaseInlineFormSet):
    """The codeframe page's codes, relabelled at once: no two alike once saved (ignoring case);
    two codes may swap their labels."""

    def clean(self) -> None:
        super().clean()
        if self.instance.pk is None:  # the add page: no codes yet
            return
        codes = self.instance.codes.order_by("number")
        labels = {
            pk: (number, label) for pk, number, label in codes.values_list("pk", "number", "label")
        }
        changed = set()
        for form in self.forms:
            label = getattr(form, "cleaned_data", {}).get("label")  # None: the form's error
            if form.instance.pk in labels and "label" in form.changed_data and label is not None:
                labels[form.instance.pk] = (labels[form.instance.pk][0], label)
                changed.add(form.instance.pk)
        alike: dict[str, list[int]] = {}
        for pk, (_number, label) in sorted(labels.items(), key=lambda item: item[1]):
            alike.setdefault(label_key(label), []).append(pk)
        for pks in alike.values():
            if len(pks) > 1 and changed.intersection(pks):
                numbers = " and ".join(str(labels[pk][0]) for pk in pks)
                raise ValidationError(
                    f"Codes {numbers} would all be labelled “{labels[pks[0]][1]}”: give each a "
                    "label of its own (two alike cannot be told apart in the exports)."
                )


class CodeInline(admin.TabularInline):
    model = Code
    form = InlineCodeForm
    formset = CodeLabelsFormSet
    fields = ["number", "label", "net", "kind", "size", "keywords"]
    readonly_fields = ["number", "size", "keywords"]
    extra = 0
    # Deleting must reassign primary codes: use the code's own page or the codeframe page.
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Codeframe)
class CodeframeAdmin(ServiceDeletes, ScopedAdmin):
    list_display = [
        "__str__",
        "question",
        "response_count",
        "cache_hits",
        "cache_misses",
        "created",
    ]
    search_fields = ["question__survey", "question__text"]
    list_filter = ["created", ("question__survey", ScopedValuesFilter)]
    list_select_related = ["question"]
    # The cache's figures and the timings: operators' only (ScopedAdmin.hidden_from; the
    # fields stay read-only here, so they never become form fields for anyone).
    readonly_fields = [
        "question",
        # The tracker's series (codeframe.waves.tracker_series) follows it: set by coding a wave.
        "coded_with",
        "params",
        "timings",
        "took",
        "cache_hits",
        "cache_misses",
        "response_count",
        "created",
    ]
    inlines = [CodeInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Made by a generation or by coding a wave; the form, its question read-only, saved
        # none (a 500: no question).
        return False

    def get_fields(self, request: HttpRequest, obj=None):
        fields = super().get_fields(request, obj)  # the timings for operators only
        if scoping.is_operator(request.user):
            fields = [name for name in fields if name != "took"]  # in the timings
        return fields

    @admin.display(description="took")
    def took(self, obj: Codeframe) -> str | None:
        total = obj.timings.get("total_seconds")
        return None if total is None else f"{round(total)} s"  # None: the admin's empty value

    def delete_through(self, obj: Codeframe) -> None:
        services.delete_codeframe(codeframe=obj)


@admin.register(Net)
class NetAdmin(ScopedAdmin):
    list_display = ["label", "number", "codeframe"]
    list_select_related = ["codeframe"]
    search_fields = ["label"]
    list_filter = [("codeframe", _related_only)]
    readonly_fields = ["codeframe", "number"]
    form = OwnLabelForm

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # nets come from a generation (the form could not set their codeframe)


@admin.register(Code)
class CodeAdmin(ScopedAdmin):
    list_display = ["number", "label", "net", "kind", "size", "codeframe"]
    list_display_links = ["number", "label"]
    search_fields = ["label", "keywords", "codeframe__question__survey"]
    list_filter = ["kind", ("codeframe", _related_only), ("net__label", ScopedValuesFilter)]
    list_select_related = ["net", "codeframe__question"]
    readonly_fields = ["codeframe", "number", "size"]
    form = CodeForm
    actions = ["merge_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # codes come from a generation (the form could not set their codeframe)

    @admin.action(description="Merge selected codes into the largest of them")
    def merge_selected(self, request: HttpRequest, queryset: QuerySet[Code]) -> None:
        codes = sorted(queryset, key=lambda code: (-code.size, code.number))
        if self.refuse_unless_analyst(request, codes):
            return
        if len(codes) < 2:
            self.message_user(request, "Select at least two codes.", messages.WARNING)
            return
        try:
            target = services.merge_codes(target=codes[0], sources=codes[1:])
        except CodeframeError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"Merged {len(codes) - 1} code(s) into “{target}”.")

    def delete_model(self, request: HttpRequest, obj: Code) -> None:
        services.delete_code(code=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Code]) -> None:
        for code in queryset:
            services.delete_code(code=code)


class AssignmentForm(forms.ModelForm):
    class Meta:
        model = Assignment
        fields = ["response", "code", "confidence", "is_primary"]

    def clean(self) -> dict:
        data = super().clean()
        code, response = data.get("code"), data.get("response")
        if code is not None and code.codeframe_id != self.instance.codeframe_id:
            self.add_error("code", "Choose a code of the same codeframe.")
        if response is not None and response.question_id != self.instance.codeframe.question_id:
            self.add_error("response", "Choose an answer to this codeframe's question.")
        # The database refused a code the answer carries already (a 500): say so instead.
        if code is not None and "code" in self.changed_data:
            carries = Assignment.objects.filter(response_id=self.instance.response_id, code=code)
            if carries.exclude(pk=self.instance.pk).exists():
                self.add_error("code", f"The answer carries code {code.number} already.")
        return data


@admin.register(Assignment)
class AssignmentAdmin(ScopedAdmin):
    """Moving an answer: change its primary assignment's code here, or use the code's page."""

    list_display = ["response", "code", "is_primary", "confidence", "codeframe"]
    search_fields = ["response__text", "response__respondent_id", "code__label"]
    list_filter = ["is_primary", ("codeframe", _related_only)]
    list_select_related = ["response", "code", "codeframe"]
    raw_id_fields = ["response", "code"]
    # Which answer, and which of its codes is primary, are set through the code: ticking a
    # second code primary was a 500 (the answer's primary is unique), unticking the primary
    # left an answer coded with no primary code (the SPSS file and the page disagreed).
    # Deleting its primary falls back to its next code, as deleting a code does.
    readonly_fields = ["codeframe", "response", "is_primary"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    form = AssignmentForm

    def save_model(self, request: HttpRequest, obj: Assignment, form, change: bool) -> None:
        if "code" in form.changed_data and obj.is_primary:
            services.move_response(response=obj.response, to_code=obj.code)
            return
        super().save_model(request, obj, form, change)
        if {"code", "is_primary"} & set(form.changed_data):  # not a confidence alone
            services.mark_hand_coded(codeframe_id=obj.codeframe_id, response_ids=[obj.response_id])
        services.refresh_sizes(codeframe=obj.codeframe)

    def delete_model(self, request: HttpRequest, obj: Assignment) -> None:
        self.delete_queryset(request, Assignment.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Assignment]) -> None:
        pairs = list(queryset.values_list("codeframe_id", "response_id"))
        super().delete_queryset(request, queryset)
        for codeframe_id, response_id in pairs:  # a primary gone: the next code takes its place
            left = Assignment.objects.filter(codeframe_id=codeframe_id, response_id=response_id)
            if not left.filter(is_primary=True).exists() and (
                nxt := left.order_by("-confidence", "code__number").first()
            ):
                Assignment.objects.filter(pk=nxt.pk).update(is_primary=True)
        for codeframe_id in {c for c, _ in pairs}:
            services.mark_hand_coded(
                codeframe_id=codeframe_id, response_ids=[r for c, r in pairs if c == codeframe_id]
            )
            services.refresh_sizes(codeframe=Codeframe.objects.get(pk=codeframe_id))


@admin.register(GenerationJob)
class GenerationJobAdmin(ScopedAdmin):
    """Operators' view of the generation queue; jobs are written by the workers only."""

    list_display = ["short_id", "question", "state", "stage", "progress", "attempts", "created"]
    list_filter = ["state", "stage", "created"]
    search_fields = ["question__survey", "error"]
    list_select_related = ["question", "requested_by"]
    date_hierarchy = "created"
    readonly_fields = [f.name for f in GenerationJob._meta.fields]
    actions = ["cancel"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="job")
    def short_id(self, obj: GenerationJob) -> str:
        return str(obj.pk)[:8]

    @admin.display(description="progress")
    def progress(self, obj: GenerationJob) -> str:
        return f"{obj.percent} %"

    @admin.action(description="Cancel the selected queued or running jobs")
    def cancel(self, request: HttpRequest, queryset: QuerySet) -> None:
        if self.refuse_unless_analyst(request, queryset):
            return
        cancelled = 0
        for job in queryset.filter(state__in=GenerationJob.ACTIVE_STATES):
            try:
                jobs.cancel_job(job=job)
                cancelled += 1
            except CodeframeError as exc:
                self.message_user(request, f"{job}: {exc}", messages.WARNING)
        self.message_user(request, f"Cancelled or asked to stop: {cancelled} jobs.")


@admin.register(SuggestedCode)
class SuggestedCodeAdmin(ScopedAdmin):
    """A wave's suggested new codes. Decisions go through `codeframe.waves`, as on the pages:
    accepting numbers the code above every number the tracker used and codes its answers that
    are still uncoded; the status is never edited by hand. A pending suggestion's label can be
    changed before it is accepted."""

    list_display = ["label", "size", "status", "code", "codeframe", "created"]
    list_filter = ["status", ("codeframe", _related_only)]
    search_fields = ["label", "codeframe__question__survey"]
    list_select_related = ["code", "codeframe__question"]
    readonly_fields = [
        "codeframe", "size", "status", "code", "keywords", "examples", "response_ids", "created"
    ]  # fmt: skip
    actions = ["accept_selected", "dismiss_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # suggestions come from coding a wave

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        if obj is not None and obj.status != SuggestedCode.Status.PENDING:
            return False  # decided: its label is the code's now
        return super().has_change_permission(request, obj)

    @admin.action(description="Accept the selected suggestions as new codes")
    def accept_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide(request, queryset, "accept", "Accepted")

    @admin.action(description="Dismiss the selected suggestions")
    def dismiss_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide(request, queryset, "dismiss", "Dismissed")

    def _decide(self, request: HttpRequest, queryset: QuerySet, decision: str, done: str) -> None:
        decided = 0
        for suggestion in queryset.select_related("codeframe__question").order_by(
            "codeframe", "-size"
        ):
            if not self.is_analyst_of(request, suggestion):
                self.message_user(
                    request, f"“{suggestion.label}”: your role is viewer.", messages.WARNING
                )
                continue
            try:
                waves.decide_suggestion(suggestion=suggestion, decision=decision)
                decided += 1
            except CodeframeError as exc:
                self.message_user(request, f"“{suggestion.label}”: {exc}", messages.WARNING)
        self.message_user(request, f"{done} {decided} suggestion(s).")
