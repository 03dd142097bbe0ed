"""Forms of the pages. They validate input only; the work is done by codeframe.services."""

from django import forms
from django.db.models import QuerySet

from codeframe import param_keys
from codeframe.conf import MAX_CODES_ASKED
from codeframe.models import Code, Codeframe, Project, Role
from codeframe.validators import as_id, one_line


class AnswersForm(forms.Form):
    """Where answers come from, as the import and a new wave take them: an uploaded file (its
    answer and id columns, its sheet) or pasted lines, one of the two."""

    file = forms.FileField(
        required=False,
        help_text="CSV (UTF-8; comma, semicolon or tab separated) or XLSX (formulas in the "
        "answer column are refused; reading stops after 10,000 empty rows in a row).",
    )
    column = forms.CharField(
        max_length=200,
        required=False,
        help_text="Name or number of the column with the answers; blank = guess "
        "(“answer”, “response”, … or the only column).",
    )
    id_column = forms.CharField(
        label="Respondent id column",
        max_length=200,
        required=False,
        help_text="The id to merge the codes back on; blank = guess (“respondent_id”, “id”, "
        "“serial”, …) or use the row number.",
    )
    sheet = forms.CharField(max_length=200, required=False, help_text="XLSX only; blank = first.")
    pasted = forms.CharField(
        label="…or paste answers",
        widget=forms.Textarea(attrs={"rows": 8}),
        required=False,
        strip=False,
        help_text="One answer per line, numbered 1, 2, 3… as respondent ids: to merge the "
        "codes back onto the survey file by its ids, upload the file instead.",
    )

    def clean(self) -> dict:
        data = super().clean()
        has_file, has_text = bool(data.get("file")), bool((data.get("pasted") or "").strip())
        if has_file == has_text and "file" not in self.errors:
            raise forms.ValidationError(
                "Upload a file or paste answers (one of the two)."
                if not has_file
                else "Upload a file or paste answers, not both."
            )
        return data


class ImportForm(AnswersForm):
    """Answers for a new question (project, survey name, question text) or an existing one."""

    field_order = ["project", "survey", "question_text"]  # then the answers', then replace

    project = forms.ModelChoiceField(queryset=Project.objects.none(), required=False)
    survey = forms.CharField(max_length=200, required=False, validators=[one_line])
    question_text = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    replace = forms.BooleanField(
        required=False,
        label="Replace the question's answers (and delete its codeframes)",
    )

    def __init__(
        self,
        *args,
        existing: bool = False,
        projects: QuerySet[Project] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.existing = existing
        if existing:
            del self.fields["project"]
            del self.fields["survey"]
            del self.fields["question_text"]
        else:
            del self.fields["replace"]
            self.fields["survey"].required = True
            # The projects where the user may import: scoped by the view.
            self.fields["project"].queryset = (
                projects if projects is not None else Project.objects.none()
            )
            self.fields["project"].empty_label = "My personal project"


class GenerateForm(forms.Form):
    n_codes = forms.IntegerField(
        label="Number of codes", min_value=1, max_value=MAX_CODES_ASKED, required=False
    )
    max_codes = forms.IntegerField(
        label="At most", min_value=1, max_value=MAX_CODES_ASKED, required=False
    )


class RenameForm(forms.Form):
    label = forms.CharField(max_length=200, validators=[one_line])


class _CodeChoiceForm(forms.Form):
    def __init__(self, *args, codeframe: Codeframe, exclude: Code | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        queryset = Code.objects.filter(codeframe=codeframe).order_by("number")
        if exclude is not None:
            queryset = queryset.exclude(pk=exclude.pk)
        self.fields[self.field_name].queryset = queryset
        self.codeframe, self.exclude = codeframe, exclude

    def refusal(self, blank: str) -> str:
        """Why the form is not valid: `blank` when no code was chosen or the code itself was
        (merging a code into itself: the page's one list of targets holds every code); a code
        chosen that is not among the codeframe's was merged or deleted since the page was read
        (another tab or analyst), not the analyst's mistake (when it has merged or deleted
        codes: `retired`)."""
        chosen = self.data.get(self.field_name)
        if self.exclude is not None and chosen == str(self.exclude.pk):
            return blank
        if chosen and param_keys.retired(self.codeframe.params):
            return (
                "The code you chose was merged or deleted since the page was read: nothing "
                "was changed."
            )
        return blank


class MergeForm(_CodeChoiceForm):
    field_name = "target"
    target = forms.ModelChoiceField(queryset=Code.objects.none(), label="Merge into")


class MoveForm(_CodeChoiceForm):
    field_name = "to_code"
    to_code = forms.ModelChoiceField(queryset=Code.objects.none(), label="Move to")


class AnswerIdsField(forms.Field):
    """Several answer ids (`<input name=... value=id>` repeated), as ints; at least one."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {"required": "Tick at least one answer."}

    def to_python(self, value) -> list[int]:
        ids = [as_id(item) for item in value or []]
        if None in ids:
            raise forms.ValidationError("Answers are named by their ids.", code="invalid")
        return ids


class AddCodeForm(_CodeChoiceForm):
    """The found answers' page: the code to add to the answers ticked."""

    field_name = "code"
    code = forms.ModelChoiceField(queryset=Code.objects.none(), label="Add code")
    response = AnswerIdsField()


class FindForm(forms.Form):
    """The found answers' page: the words to look for, and whether among uncoded answers only."""

    q = forms.CharField(label="Find answers with", max_length=200, required=False)
    uncoded = forms.BooleanField(label="Uncoded answers only", required=False)


class AssignSuggestionForm(_CodeChoiceForm):
    field_name = "code"
    code = forms.ModelChoiceField(queryset=Code.objects.none(), label="Code as")


class WaveForm(AnswersForm):
    """The next wave of a tracker: its label, its place, and its answers (a file or pasted)."""

    field_order = ["wave"]  # then the answers', then the place

    wave = forms.CharField(
        label="Wave",
        max_length=100,
        help_text="e.g. 2027-01; unique within the tracker.",
        validators=[one_line],
    )
    order = forms.TypedChoiceField(
        label="Place",
        coerce=int,
        empty_value=None,
        required=False,
        help_text="Where the wave goes in the tracker: next, or in the place of a deleted wave "
        "(its number, which the SPSS file's “wave” gives, comes back).",
    )

    def __init__(self, *args, places: list, **kwargs) -> None:
        """`places`: `waves.wave_places` of the tracker. The "Place" choice is offered only
        when a deleted wave left one free; the next number is the default."""
        super().__init__(*args, **kwargs)
        following, *free = places
        # A place chosen on the page may have been taken since: the field stays, so the post
        # is refused ("no longer free") rather than the wave going last without a word.
        if not free and not (self.is_bound and self.data.get("order")):
            del self.fields["order"]
            return
        field = self.fields["order"]
        field.choices = [
            ("", f"Next: wave {following.number}, after {following.after}"),
            *((str(p.number), f"Wave {p.number}, between {p.after} and {p.before}") for p in free),
        ]
        field.error_messages["invalid_choice"] = (
            "Wave number %(value)s is no longer free (another wave took it): choose the place "
            "again."
        )


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=200, label="New project", validators=[one_line])


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(
        choices=Role.choices,
        initial=Role.VIEWER,
        widget=forms.Select(attrs={"aria-label": "Role of the new member"}),
    )
