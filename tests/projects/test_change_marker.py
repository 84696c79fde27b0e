"""The project's change marker (Project.revision): it moves on by one after the commit of a change, never with a
rolled-back one, and a save of a project read earlier never sets it back."""

import pytest
from django.db import transaction

from projects.models import Project

pytestmark = [pytest.mark.django_db, pytest.mark.project(members={})]


def revision(project):
    return Project.objects.values_list("revision", flat=True).get(pk=project.pk)


def test_it_moves_on_once_the_transaction_commits(project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            Project.mark_changed(project.pk)
            assert revision(project) == 0  # nobody may see the marker before the change itself
    assert len(callbacks) == 1 and revision(project) == 1
    with django_capture_on_commit_callbacks(execute=True):
        Project.mark_changed(project.pk)
        Project.mark_changed(project.pk)
    assert revision(project) == 3


def test_a_rolled_back_change_moves_nothing(project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            Project.mark_changed(project.pk)
            raise RuntimeError("the change failed")
    assert callbacks == [] and revision(project) == 0


def test_it_moves_only_the_project_it_names(project, make_project, alice, django_capture_on_commit_callbacks):
    other = make_project(alice, "Elsewhere")
    with django_capture_on_commit_callbacks(execute=True):
        Project.mark_changed(other.pk)
    assert (revision(project), revision(other)) == (0, 1)


def test_saving_a_project_read_earlier_keeps_the_marker(project, django_capture_on_commit_callbacks):
    stale = Project.objects.get(pk=project.pk)
    with django_capture_on_commit_callbacks(execute=True):
        Project.mark_changed(project.pk)
    stale.name = "Trailer, final cut"
    stale.save()
    project.refresh_from_db()
    assert (project.name, project.revision) == ("Trailer, final cut", 1)
