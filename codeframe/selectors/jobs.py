"""Generation jobs: one the user may see, a question's that need attention, and the queue's
figures."""

from dataclasses import asdict, dataclass
from datetime import timedelta

from django.db.models import Count, Exists, Min, OuterRef, Q
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone

from codeframe.models import GenerationJob, Question, Role
from codeframe.scoping import User, jobs_for, require_role


def get_job(*, user: User, job_id, role: Role | str = Role.VIEWER) -> GenerationJob:
    """The job with its question if the user can see it (else Http404); PermissionDenied if the
    user's role there is below `role`."""
    job = get_object_or_404(
        jobs_for(user).select_related("question__project", "codeframe"), pk=job_id
    )
    require_role(user, job.question.project_id, role)
    return job


def question_jobs(*, question: Question, limit: int = 10) -> list[GenerationJob]:
    """The question's generations that need attention: queued, running, failed or cancelled
    (newest first); done ones are listed as codeframes, and a failed or cancelled one that a
    later job of its kind finished (its retry, say) is settled."""
    State = GenerationJob.State
    finished_later = question.jobs.filter(
        state=State.DONE, kind=OuterRef("kind"), created__gt=OuterRef("created")
    )
    return list(
        question.jobs.exclude(state=State.DONE)
        .exclude(Q(state__in=[State.FAILED, State.CANCELLED]) & Exists(finished_later))
        .order_by("-created")[:limit]
    )


@dataclass(frozen=True)
class QueueStats:
    queued: int
    running: int
    failed_last_hour: int
    done_last_hour: int
    oldest_queued_seconds: float | None
    # How long the running job heard from least recently has been silent: past JOB_TIMEOUT
    # its worker died or hung (and no worker is left to run the watchdog, if it stays so).
    silent_seconds: float | None

    def as_dict(self) -> dict:
        return asdict(self)


def job_queue_stats() -> QueueStats:
    """The generation queue at a glance, for the cache stats page, its API and /metrics."""
    now = timezone.now()
    hour_ago = now - timedelta(hours=1)
    State = GenerationJob.State
    counts = GenerationJob.objects.aggregate(
        queued=Count("pk", filter=Q(state=State.QUEUED)),
        running=Count("pk", filter=Q(state=State.RUNNING)),
        failed=Count("pk", filter=Q(state=State.FAILED, finished__gte=hour_ago)),
        done=Count("pk", filter=Q(state=State.DONE, finished__gte=hour_ago)),
        oldest=Min("created", filter=Q(state=State.QUEUED)),
        heard=Min(Coalesce("heartbeat", "started", "created"), filter=Q(state=State.RUNNING)),
    )
    oldest, heard = counts["oldest"], counts["heard"]
    return QueueStats(
        queued=counts["queued"],
        running=counts["running"],
        failed_last_hour=counts["failed"],
        done_last_hour=counts["done"],
        oldest_queued_seconds=(now - oldest).total_seconds() if oldest else None,
        silent_seconds=(now - heard).total_seconds() if heard else None,
    )
