import pytest

from renders.states import FINAL, TRANSITIONS, Status, can_move, from_provider, sources

ORDER = [Status.SUBMITTING, Status.SENDING, Status.QUEUED, Status.IN_PROGRESS, Status.DOWNLOADING, Status.COMPLETED]


def test_it_lists_every_status_once():
    assert set(TRANSITIONS) == set(Status)


def test_it_walks_the_happy_path_forward():
    for before, after in zip(ORDER, ORDER[1:], strict=False):
        assert can_move(before, after), (before, after)


@pytest.mark.parametrize("later", ORDER[2:])
def test_it_never_moves_backwards(later):
    for earlier in ORDER[: ORDER.index(later)]:
        assert not can_move(later, earlier), (later, earlier)


def test_final_statuses_are_dead_ends():
    for status in FINAL:
        assert TRANSITIONS[status] == set()


def test_it_cancels_only_before_the_create_is_sent():
    assert sources(Status.CANCELED) == {Status.SUBMITTING, Status.WAITING}


def test_it_completes_only_after_the_assets_are_being_stored():
    assert sources(Status.COMPLETED) == {Status.DOWNLOADING}


def test_every_status_in_flight_can_fail():
    assert sources(Status.FAILED) == set(Status) - FINAL


def test_it_maps_provider_statuses_and_treats_unknown_ones_as_terminal():
    assert from_provider("queued") == Status.QUEUED
    assert from_provider("in_progress") == Status.IN_PROGRESS
    assert from_provider("completed") == Status.DOWNLOADING
    assert from_provider("failed") == Status.FAILED
    assert from_provider("expired") == Status.FAILED
