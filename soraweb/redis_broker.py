"""The Redis broker's transport: kombu's, with one guard so a worker outlives a Redis restart.

When the broker connection breaks, the worker closes it and then closes its channel, which restores the messages
it had not acknowledged. If the connection was already torn down, kombu builds the Redis client for that restore
from a transport whose client is gone and raises AttributeError, which nothing catches: the worker process ends
(kombu issues 582 and 970 show the same trace). Here that case is the connection error it is, which the worker's
close ignores before it reconnects. The messages stay in Redis's unacked set; the renders they named are driven
again from the database by the dispatcher and the reconciler, as after any lost message.
"""

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous=False):
        if self.connection.client is None:
            raise RedisConnectionError("the broker connection is closed")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel
