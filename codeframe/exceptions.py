"""The app's exception hierarchy. Adapters map these once: CommandError, an APIException with
its status code, or a message on a page."""


class CodeframeError(Exception):
    """Base class of every error this app raises on purpose."""


class ImportFailed(CodeframeError):
    """An upload could not be imported; nothing was written."""


class NoResponses(CodeframeError):
    """A codeframe was asked for a question that has no answers."""


class TooManyResponses(CodeframeError):
    """More answers than CODEFRAME["MAX_RESPONSES"]."""


class InvalidOptions(CodeframeError):
    """Generation options out of their range (a number of codes below 1 or above 200)."""


class ConflictingOptions(InvalidOptions):
    """Generation options that contradict each other (a fixed number of codes above the cap)."""


class GenerationFailed(CodeframeError):
    """The generator returned a draft that cannot be stored; nothing was written."""


class InvalidEdit(CodeframeError):
    """A review edit that does not make sense (e.g. merging codes of different codeframes)."""


class InUse(InvalidEdit):
    """Deleting or replacing what others depend on now: a tracker's later waves, or a wave
    being coded with it."""


class SuggestionDecided(InvalidEdit):
    """A suggested code was already accepted, assigned or dismissed."""


class QueueFull(CodeframeError):
    """The user already has CODEFRAME["MAX_QUEUED_GENERATIONS"] generations queued or running."""


class JobStateError(CodeframeError):
    """A job action that its state does not allow (cancelling a finished job, retrying a
    running one)."""


class JobCancelled(CodeframeError):
    """Raised inside a worker when its job was cancelled (or handed to another attempt)."""


class AttemptRequeued(CodeframeError):
    """Raised by a worker's task when its attempt lost the database connection and queued the
    job again: the task row reads failed, the job runs on as its next attempt."""


class NotApproved(CodeframeError):
    """A wave can only be coded with an approved codeframe."""


class AnswersChanged(CodeframeError):
    """The question's answers were replaced (or the question deleted) while a codeframe was
    being generated for them; nothing was stored."""


class MembershipError(CodeframeError):
    """A change of a project's members that cannot be made (unknown user, last manager)."""


class NotAWaveFrame(CodeframeError):
    """Carrying edits back needs a wave's codeframe (one coded with an approved frame)."""


class NotTheWavesFrame(CodeframeError):
    """Coding a wave again from a codeframe the tracker does not use for it (an older one), or
    from the one it keeps whatever is coded (approved, or later waves were coded with it)."""


class EditsNotCarriedBack(CodeframeError):
    """Coding a wave again from a codeframe whose frame edits (renames, accepted codes, merges,
    ...) were not carried back: the new codeframe, which the tracker then counts, would lack
    them. Carry them back first, or code again discarding them."""


class CarryBackConflict(CodeframeError):
    """The wave frame and its approved frame both changed the same thing differently since the
    wave was coded; nothing was carried back. `summary` lists the conflicts."""

    def __init__(self, message: str, *, summary=None) -> None:
        super().__init__(message)
        self.summary = summary
