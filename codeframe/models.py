"""Projects, their survey questions, the answers and the codeframes drafted for them. Data only:
the rules for changing them live in `codeframe.services`, who may see them in
`codeframe.scoping`."""

from django.conf import settings
from django.db import models
from django.urls import reverse


class Role(models.TextChoices):
    """What a member may do in a project; each role includes the ones before it."""

    VIEWER = "viewer", "Viewer (read, export)"
    ANALYST = "analyst", "Analyst (also import, generate, edit codes)"
    MANAGER = "manager", "Manager (also members and deletes)"

    @classmethod
    def at_least(cls, role: "Role | str") -> list[str]:
        """The roles that include `role`."""
        order = list(cls.values)
        return order[order.index(role) :]


class Project(models.Model):
    """A client's study: it owns questions, and through them answers, codeframes and exports."""

    name = models.CharField(max_length=200)
    # Set on the project made for a user on first use; one per user.
    personal_for = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="personal_project",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="projects"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("codeframe:project-detail", args=[self.pk])


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        ordering = ["project", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="cf_membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.project_id} as {self.role}"


class Question(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="questions")
    survey = models.CharField(max_length=200)
    text = models.TextField("question text", blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        text = self.text if len(self.text) <= 60 else self.text[:59] + "…"
        return f"{self.survey}: {text}" if text else self.survey

    def get_absolute_url(self) -> str:
        return reverse("codeframe:question-detail", args=[self.pk])


class Response(models.Model):
    """One respondent's answer to one question."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="responses")
    respondent_id = models.CharField(max_length=100, blank=True)
    text = models.TextField()
    # Order in the imported file: codeframes and exports follow it.
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["question", "position"]
        indexes = [models.Index(fields=["question", "position"], name="cf_response_q_pos")]

    def __str__(self) -> str:
        text = self.text if len(self.text) <= 60 else self.text[:59] + "…"
        return f"{self.respondent_id or self.position}: {text}"


class Codeframe(models.Model):
    """One generation's result for a question, as edited by the analysts since."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="codeframes")
    params = models.JSONField(default=dict, blank=True)
    # embedding_seconds, clustering_seconds, total_seconds (and whatever else the generator
    # reports).
    timings = models.JSONField(default=dict, blank=True)
    cache_hits = models.PositiveIntegerField(default=0)
    cache_misses = models.PositiveIntegerField(default=0)
    response_count = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        # No walk to the question: admin filters list every codeframe by this string.
        return f"Codeframe #{self.pk} (question {self.question_id})"

    def get_absolute_url(self) -> str:
        return reverse("codeframe:codeframe-detail", args=[self.pk])


class Net(models.Model):
    """A group of codes (a "net" in coders' language)."""

    codeframe = models.ForeignKey(Codeframe, on_delete=models.CASCADE, related_name="nets")
    number = models.PositiveIntegerField()
    label = models.CharField(max_length=200)

    class Meta:
        ordering = ["codeframe", "number"]
        constraints = [
            models.UniqueConstraint(fields=["codeframe", "number"], name="cf_net_unique_number")
        ]

    def __str__(self) -> str:
        return self.label


class Code(models.Model):
    class Kind(models.TextChoices):
        THEME = "theme", "Theme"
        NON_ANSWER = "non_answer", "Non-answer"

    codeframe = models.ForeignKey(Codeframe, on_delete=models.CASCADE, related_name="codes")
    net = models.ForeignKey(
        Net, on_delete=models.SET_NULL, null=True, blank=True, related_name="codes"
    )
    # The code id coders see in exports ("3;7"); stable across renames, merges and deletes.
    number = models.PositiveIntegerField()
    label = models.CharField(max_length=200)
    keywords = models.JSONField(default=list, blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.THEME)
    # Answers with this code as their primary code; kept current by codeframe.services.
    size = models.PositiveIntegerField(default=0)
    examples = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["codeframe", "number"]
        constraints = [
            models.UniqueConstraint(fields=["codeframe", "number"], name="cf_code_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.number}. {self.label}"


class Assignment(models.Model):
    """A response carries a code; exactly one of a response's codes (per codeframe) is primary."""

    codeframe = models.ForeignKey(Codeframe, on_delete=models.CASCADE, related_name="assignments")
    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="assignments")
    code = models.ForeignKey(Code, on_delete=models.CASCADE, related_name="assignments")
    confidence = models.FloatField(default=1.0)
    is_primary = models.BooleanField(default=False)

    class Meta:
        ordering = ["codeframe", "response", "-is_primary", "-confidence"]
        constraints = [
            models.UniqueConstraint(fields=["response", "code"], name="cf_assignment_unique"),
            models.UniqueConstraint(
                fields=["codeframe", "response"],
                condition=models.Q(is_primary=True),
                name="cf_assignment_one_primary",
            ),
        ]
        indexes = [models.Index(fields=["code", "is_primary"], name="cf_assignment_code_pri")]

    def __str__(self) -> str:
        return f"{self.response} → {self.code}"
