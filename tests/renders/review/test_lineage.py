"""renders.lineage: ancestors and descendants through remix_of, in two queries whatever the depth."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from renders import lineage
from renders.models import Render
from renders.states import Status

pytestmark = [pytest.mark.django_db, pytest.mark.project(members={"bob": "editor", "vera": "viewer"})]


def chain(review_render, length, top=None):
    renders = [top] if top else []
    parent = top
    for _ in range(length):
        parent = review_render(Status.COMPLETED, remix_of=parent)
        renders.append(parent)
    return renders


def test_ancestors_run_from_the_first_render_to_the_parent(review_render):
    a, b, c, d = chain(review_render, 4)
    family = lineage.family(d)
    assert family.ancestors == [a, b, c]
    assert family.parent == c and family.tree == []


def test_descendants_form_a_tree_in_submission_order(review_render):
    root = review_render(Status.COMPLETED)
    first = review_render(Status.COMPLETED, remix_of=root)
    second = review_render(Status.FAILED, remix_of=root)
    grandchild = review_render(Status.IN_PROGRESS, remix_of=first)
    family = lineage.family(root)
    assert [node.render for node in family.tree] == [first, second]
    assert [node.render for node in family.tree[0].children] == [grandchild]
    assert family.descendant_count == 3
    assert [node.render for node in family.nodes()] == [first, grandchild, second]
    assert family.in_flight  # the grandchild


def test_branch_costs_add_up_charges_and_what_is_still_reserved(review_render):
    root = review_render(Status.COMPLETED, charged_usd="0.40")
    child = review_render(Status.COMPLETED, remix_of=root, charged_usd="0.38")
    review_render(Status.QUEUED, remix_of=child, cost_estimate_usd="1.20", charged_usd="0")
    review_render(Status.FAILED, remix_of=child, cost_estimate_usd="0.40", charged_usd="0")
    family = lineage.family(root)
    node = family.tree[0]
    assert node.branch_charged_usd == Decimal("0.38")
    assert node.branch_pending_usd == Decimal("1.20")
    assert node.branch_size == 3
    assert family.branch_charged_usd == Decimal("0.78") and family.branch_size == 4


def test_deleted_relatives_keep_their_place(alice, review_render):
    a, b, c = chain(review_render, 3)
    Render.objects.filter(pk__in=[a.pk, b.pk]).update(deleted_at="2026-01-01T00:00:00Z")
    family = lineage.family(c)
    assert [r.pk for r in family.ancestors] == [a.pk, b.pk]
    assert family.parent.is_deleted
    below = lineage.family(a)
    assert [n.render.pk for n in below.nodes()] == [b.pk, c.pk]  # c still hangs under the deleted b


def test_it_costs_two_queries_whatever_the_depth(review_render):
    renders = chain(review_render, 30)
    for _ in range(10):
        review_render(Status.COMPLETED, remix_of=renders[15])
    with CaptureQueriesContext(connection) as ctx:
        family = lineage.family(renders[15])
        list(family.nodes())
        [r.author.username for r in family.ancestors]
    assert len(ctx.captured_queries) == 2
    assert len(family.ancestors) == 15 and family.descendant_count == 24


def test_renders_of_another_project_never_join_the_family(review_render, elsewhere, charlie):
    root = review_render(Status.COMPLETED)
    # impossible through submit; a stray row must still not leak another project's render onto this page
    Render.objects.create(project=elsewhere, author=charlie, prompt="theirs", model="sora-2", size="1280x720",
                          seconds=4, remix_of=root)
    assert lineage.family(root).tree == []


def test_a_cycle_does_not_run_forever(review_render, monkeypatch):
    a, b = chain(review_render, 2)
    Render.objects.filter(pk=a.pk).update(remix_of=b)  # corrupt data: a <-> b
    monkeypatch.setattr(lineage, "MAX_DEPTH", 6)
    family = lineage.family(a)
    assert {r.pk for r in family.ancestors} <= {a.pk, b.pk}


def test_a_huge_tree_is_cut_to_the_nearest_generations(review_render, monkeypatch):
    monkeypatch.setattr(lineage, "MAX_DESCENDANTS", 3)
    root = review_render(Status.COMPLETED)
    children = [review_render(Status.COMPLETED, remix_of=root) for _ in range(2)]
    review_render(Status.COMPLETED, remix_of=children[0])
    review_render(Status.COMPLETED, remix_of=children[0])
    family = lineage.family(root)
    assert family.truncated and family.descendant_count == 3
    assert [n.render for n in family.tree] == children
