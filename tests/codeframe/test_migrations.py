"""Data migrations: 0005_projects moves the questions made before projects into a "Default"
project; 0006 moves waves that were imported into "Default" into their tracker's project."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


@pytest.mark.django_db(transaction=True)
def test_existing_questions_move_into_a_default_project_managed_by_staff():
    executor = MigrationExecutor(connection)
    executor.migrate([("codeframe", "0001_initial")])
    old = executor.loader.project_state([("codeframe", "0001_initial")]).apps
    from django.contrib.auth.models import User  # auth stays migrated

    staff = User.objects.create(username="staff", is_staff=True)
    User.objects.create(username="plain")
    Question = old.get_model("codeframe", "Question")
    ids = [Question.objects.create(survey=f"S{i}").pk for i in range(3)]

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    from codeframe.models import Membership, Project
    from codeframe.models import Question as NewQuestion

    [project] = Project.objects.all()
    assert project.name == "Default"
    assert set(NewQuestion.objects.filter(project=project).values_list("pk", flat=True)) == set(ids)
    assert list(Membership.objects.values_list("user_id", "role")) == [(staff.pk, "manager")]


@pytest.mark.django_db(transaction=True)
def test_waves_stored_in_default_move_into_their_trackers_project():
    executor = MigrationExecutor(connection)
    executor.migrate([("codeframe", "0005_projects")])
    old = executor.loader.project_state([("codeframe", "0005_projects")]).apps
    Project = old.get_model("codeframe", "Project")
    Question = old.get_model("codeframe", "Question")
    client = Project.objects.create(name="Client A")
    default = Project.objects.create(name="Default")
    root = Question.objects.create(project=client, survey="Tracker", wave_order=1)
    wave = Question.objects.create(project=default, survey="Tracker", tracker=root, wave_order=2)
    alone = Question.objects.create(project=default, survey="Not a tracker")

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    from codeframe.models import Question as NewQuestion

    projects = dict(NewQuestion.objects.values_list("pk", "project_id"))
    assert projects == {root.pk: client.pk, wave.pk: client.pk, alone.pk: default.pk}
