"""Projects, their survey questions, the answers and the codeframes drafted for them. Data only:
the rules for changing them live in `codeframe.services`, who may see them in
`codeframe.scoping`."""

import uuid

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
    # Trackers: the same question asked again, wave after wave. Every later wave points at the
    # tracker's first question; order and label say which wave a question is.
    # RESTRICT: the first wave cannot be deleted while later waves point at it (a tracker's
    # series would fall apart), unless they go in the same delete (a whole project).
    tracker = models.ForeignKey(
        "self", on_delete=models.RESTRICT, null=True, blank=True, related_name="later_waves"
    )
    wave_label = models.CharField(max_length=100, blank=True)
    wave_order = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        text = self.text if len(self.text) <= 60 else self.text[:59] + "…"
        return f"{self.survey}: {text}" if text else self.survey

    def get_absolute_url(self) -> str:
        return reverse("codeframe:question-detail", args=[self.pk])

    @property
    def wave_name(self) -> str:
        """How the tracker names this wave: its label, else its number (a first wave not
        named has no label); "" when it has neither (no tracker's wave, not named)."""
        return self.wave_label or (str(self.wave_order) if self.wave_order else "")


class Response(models.Model):
    """One respondent's answer to one question."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="responses")
    respondent_id = models.CharField(max_length=100, blank=True)
    # The upload gave the id (False: numbered by line or position, or imported before this was
    # kept). A tracker pairs a respondent's answers across waves only by ids given: waves
    # numbered 1, 2, ... each share every number, not a respondent.
    id_given = models.BooleanField(default=False)
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
    # The generation's options and figures, and the codeframe's history: merged and deleted
    # numbers, carry-back's base... (`codeframe.param_keys` names every key of the latter).
    params = models.JSONField(default=dict, blank=True)
    # embedding_seconds, clustering_seconds, total_seconds (and whatever else the generator
    # reports).
    timings = models.JSONField(default=dict, blank=True)
    cache_hits = models.PositiveIntegerField(default=0)
    cache_misses = models.PositiveIntegerField(default=0)
    response_count = models.PositiveIntegerField(default=0)
    # The highest answer id it coded: an answer of its question with a higher one was imported
    # after it was made (late fieldwork) and was never coded by it, unless coded by hand since
    # (`selectors.iter_coded_responses`). Null for frames made before it was kept.
    coded_through = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    # Approved frames code later waves (codeframe.waves.code_wave) with the same numbers.
    approved = models.BooleanField(default=False)
    # RESTRICT, as Question.tracker: a frame that waves were coded with stays while they do
    # (carry-back and the tracker need it).
    coded_with = models.ForeignKey(
        "self", on_delete=models.RESTRICT, null=True, blank=True, related_name="wave_codeframes"
    )

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
    # Its most central answers when generated (`generation.N_EXAMPLES`; the codeframe page
    # shows 3), a suggestion's or a carried-back code's; what the wave classifier learns the
    # code from while it has no answer (`waves.classifier_examples`).
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


class HandCoded(models.Model):
    """An answer whose codes in a codeframe an analyst set by hand: moved it or coded it as a
    code, left it uncoded, took a second code off, coded a suggestion's answers. Coding the wave
    again (`waves.keep_hand_coding`) gives it the same codes instead of the classifier's."""

    codeframe = models.ForeignKey(Codeframe, on_delete=models.CASCADE, related_name="hand_coded")
    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["codeframe", "response"], name="cf_hand_coded_unique")
        ]

    def __str__(self) -> str:
        return f"{self.response} (by hand)"


class GenerationJob(models.Model):
    """One background generation of a codeframe for a question: its state and progress.

    The worker (`codeframe.jobs.run_job`, wrapped by the task in `codeframe.tasks`) writes it;
    the pages and the API only read it. `heartbeat` moves with every progress report: a running
    job whose heartbeat is older than CODEFRAME["JOB_TIMEOUT"] lost its worker.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Kind(models.TextChoices):
        GENERATE = "generate", "Generate a codeframe"
        WAVE = "wave", "Code a wave with an approved codeframe"

    class Stage(models.TextChoices):
        WAITING = "waiting", "Waiting for a worker"
        PREPARING = "preparing", "Reading the answers"
        EMBEDDING = "embedding", "Embedding answers"
        CLUSTERING = "clustering", "Clustering"
        CODING = "coding", "Coding with the approved codeframe"
        STORING = "storing", "Storing the codeframe"
        FINISHED = "finished", "Finished"

    ACTIVE_STATES = (State.QUEUED, State.RUNNING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="jobs")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="generation_jobs",
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.GENERATE)
    # GENERATE: n_codes, max_codes, random_state (what generate_codeframe is called with);
    # WAVE: codeframe (the approved frame's id) and wave (the label).
    params = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.QUEUED)
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.WAITING)
    # Embedding progress: `done` of `total` answers.
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    cache_hits = models.PositiveIntegerField(default=0)
    cache_misses = models.PositiveIntegerField(default=0)
    # Why it failed, in words a person can act on (the traceback goes to the worker's log).
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    # The django-tasks result id of the latest attempt.
    task_id = models.CharField(max_length=64, blank=True)
    codeframe = models.OneToOneField(
        Codeframe, on_delete=models.SET_NULL, null=True, blank=True, related_name="job"
    )
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    # Its project's turn in the queue (`jobs.backend.next_turn`): the lowest is taken first.
    turn = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["state", "created"], name="cf_job_state_created")]

    def __str__(self) -> str:
        return f"Generation {str(self.pk)[:8]} ({self.get_state_display().lower()})"

    def get_absolute_url(self) -> str:
        return reverse("codeframe:job-detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATES

    @property
    def percent(self) -> int:
        """Overall progress, 0..100: embedding is most of the work (5-85 %)."""
        if self.state == self.State.DONE:
            return 100
        if self.stage == self.Stage.EMBEDDING and self.total:
            return 5 + int(80 * min(self.done, self.total) / self.total)
        return {
            self.Stage.WAITING: 0,
            self.Stage.PREPARING: 2,
            self.Stage.EMBEDDING: 5,
            self.Stage.CLUSTERING: 85,  # a generation's step after embedding
            self.Stage.CODING: 85,  # a wave's step after embedding
            self.Stage.STORING: 95,
        }.get(self.stage, 0)

    @property
    def elapsed_seconds(self) -> float | None:
        if self.started is None:
            return None
        from django.utils import timezone

        return ((self.finished or timezone.now()) - self.started).total_seconds()


class SuggestedCode(models.Model):
    """A new theme among a wave's answers that fit no code of the approved frame, waiting for
    an analyst to accept it (it becomes a code, numbered above every number used) or not."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        DISMISSED = "dismissed", "Dismissed"

    codeframe = models.ForeignKey(Codeframe, on_delete=models.CASCADE, related_name="suggestions")
    label = models.CharField(max_length=200)
    keywords = models.JSONField(default=list, blank=True)
    examples = models.JSONField(default=list, blank=True)
    size = models.PositiveIntegerField(default=0)
    response_ids = models.JSONField(default=list, blank=True)  # the answers it would take
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    code = models.ForeignKey(
        Code, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )  # once accepted
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["codeframe", "-size", "id"]

    def __str__(self) -> str:
        return f"{self.label} ({self.size}, {self.status})"
