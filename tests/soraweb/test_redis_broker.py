"""The Redis transport's guard: a channel whose connection was torn down answers a connection error (which the
worker's close ignores before it reconnects), not the AttributeError that ended the worker process."""

import os

import pytest
from kombu import Connection
from kombu.common import ignore_errors
from kombu.transport import redis as kombu_redis

from soraweb.redis_broker import Transport

pytestmark = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (the PostgreSQL + Redis pass)")


@pytest.fixture
def torn_down_channel():
    channels = []

    def make(transport):
        connection = Connection(os.environ["REDIS_URL"], transport=transport)
        channel = connection.channel()
        channel.qos._delivered["tag-1"] = True  # a message taken and not acknowledged: the close restores it
        channel._pool = None  # the pool went with the broken connection
        connection.transport.client = None  # ...and so did the transport's connection details
        channels.append(channel)
        return connection, channel

    yield make
    for channel in channels:
        channel.qos._delivered.clear()  # nothing left for kombu's restore at exit


def test_a_torn_down_channel_restores_with_a_connection_error_that_the_close_ignores(torn_down_channel):
    connection, channel = torn_down_channel(Transport)
    ignore_errors(connection, channel.qos.restore_unacked)  # raises nothing


def test_kombus_own_channel_raises_what_ended_the_worker(torn_down_channel):
    connection, channel = torn_down_channel(kombu_redis.Transport)
    with pytest.raises(AttributeError):
        ignore_errors(connection, channel.qos.restore_unacked)
