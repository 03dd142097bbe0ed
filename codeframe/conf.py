"""The app's settings: one `CODEFRAME` dict in Django settings, read only through here.

    CODEFRAME = {"MAX_RESPONSES": 20_000}

`get_config()` merges it over `DEFAULTS`; the result is cached and cleared whenever a test
overrides settings.
"""

from functools import cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

# The most codes a generation may be asked for (n_codes, max_codes): the page's form, the API's
# fields and jobs.create_job, which the command and a retry go through too.
MAX_CODES_ASKED = 200

DEFAULTS: dict[str, Any] = {
    # Most answers one question (or one API call) may carry; the API answers 413 above it.
    "MAX_RESPONSES": 50_000,
    # Largest upload (file, pasted text or API body), refused before it is read into memory.
    "MAX_UPLOAD_BYTES": 20 * 1024 * 1024,
    # Longest single answer; longer ones are refused with their line number, not truncated.
    "MAX_ANSWER_CHARS": 10_000,
    # An .xlsx upload is refused before openpyxl opens it when its parts would expand to more
    # than this in all, or one part above 1 MB expands more than XLSX_MAX_RATIO times (a zip
    # bomb: 48 KB of shared strings took 8 s of CPU and 130 MB).
    "XLSX_MAX_UNCOMPRESSED_BYTES": 200 * 1024 * 1024,
    "XLSX_MAX_RATIO": 100,
    # ... or when its shared strings (every distinct text cell, which openpyxl holds in
    # memory whole, about 7 times their XML's size) are larger than this: 66 MB of them took a
    # web process from 100 MB to 570 MB for 30 s. 32 MB is some 150,000 answers of 200
    # characters; a larger survey export is imported as CSV.
    "XLSX_MAX_SHARED_STRINGS_BYTES": 32 * 1024 * 1024,
    # Reading a sheet stops after this many empty rows in a row (a sheet may declare a million
    # formatted empty rows, about 0.1 ms each to parse); the rows below are not read.
    "XLSX_MAX_BLANK_RUN": 10_000,
    # Rows per INSERT when importing answers and writing assignments.
    "BATCH_SIZE": 2_000,
    # Background generation jobs. A running job whose worker has not reported progress for
    # JOB_TIMEOUT seconds (killed, out of memory, machine gone) is queued again, up to
    # JOB_MAX_ATTEMPTS runs in all, then marked failed. Progress is reported after every
    # JOB_EMBED_BATCH texts embedded (one database write each), so keep the timeout well above
    # the time of one batch and of the clustering step (seconds even at 50,000 answers).
    "JOB_TIMEOUT": 300,
    # A worker whose job has made no progress (stage, count) for this long is taken for hung:
    # its heartbeat stops and the job is recovered as above. Keep it above the longest step
    # without progress reports (clustering 50,000 answers: seconds).
    "JOB_STALL_TIMEOUT": 1800,
    "JOB_MAX_ATTEMPTS": 2,
    "JOB_EMBED_BATCH": 256,
    # Queued or running generations one user may have at once; more are refused (429).
    "MAX_QUEUED_GENERATIONS": 10,
    # Survey name of the question `codeframe_demo` imports into (replaced on the next run
    # while it has no codeframe; with one, the next run makes a new question).
    "DEMO_SURVEY": "Demo: customer satisfaction survey",
}


@cache
def get_config() -> dict[str, Any]:
    """Return the effective settings: `DEFAULTS` updated with `settings.CODEFRAME`."""
    user = getattr(settings, "CODEFRAME", {}) or {}
    unknown = set(user) - set(DEFAULTS)
    if unknown:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"Unknown CODEFRAME setting(s): {', '.join(sorted(unknown))}")
    return {**DEFAULTS, **user}


@receiver(setting_changed)
def _reset_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    if setting == "CODEFRAME":
        get_config.cache_clear()
