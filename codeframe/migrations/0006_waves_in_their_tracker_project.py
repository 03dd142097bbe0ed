from django.db import migrations
from django.db.models import F


def waves_into_their_tracker_project(apps, schema_editor):
    """Waves coded before this fix were imported into the "Default" project instead of their
    tracker's: move each into the project of the tracker's first question."""
    Question = apps.get_model("codeframe", "Question")
    for wave in Question.objects.filter(tracker__isnull=False).exclude(
        project_id=F("tracker__project_id")
    ):
        wave.project_id = wave.tracker.project_id
        wave.save(update_fields=["project"])


class Migration(migrations.Migration):
    dependencies = [("codeframe", "0005_projects")]

    operations = [migrations.RunPython(waves_into_their_tracker_project, migrations.RunPython.noop)]
