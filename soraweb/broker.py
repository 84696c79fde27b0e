"""The embedded broker of the defaults (no REDIS_URL): messages are files, and every step that other processes
can see is one atomic rename, so concurrent producers and consumers can neither lose nor double a message.

kombu's own filesystem transport is not safe under concurrency: its put creates the message file before
writing it, and its get reads without the lock, so a consumer can take a half-written message (the worker dies
of a JSONDecodeError, the message is gone); it claims through `shutil.move` into the system's temporary folder,
a copy and a delete (two consumers can both copy) when /tmp is another filesystem; and two processes binding the
same exchange at once can leave its table empty or torn (messages with no route are dropped). kombu's
SQLAlchemy transport was the other candidate: a new dependency, no fanout (Celery's remote control needs it),
and its delivered rows are never deleted.

The layout, all under the `data_folder` transport option (one filesystem, so every rename is atomic):

    staging/<name>          a message being written; nobody reads this folder
    queues/<queue>/<name>   ready: renamed in complete, so a reader never sees a partial file
    claimed/<name>          taken: os.rename out of queues/ succeeds for exactly one consumer
    bindings/<exchange>.exchange   the exchange's routing table, replaced whole under a lock
    broken/<name>           a file that is not a message (torn by a crash of the machine): set aside, logged

Acknowledgements are kombu's virtual ones (in memory): a claimed message is read and removed at once, and
an unacknowledged one goes back to its queue when its consumer closes its channel (a warm shutdown, a
rejection with requeue). A consumer killed outright loses the messages it had taken; soraweb does not rely on
redelivery for those (the reaper in renders/reconcile.py resumes a killed worker's renders, and the dispatcher
re-sends a due render whose message never ran). Nothing here is fsynced: a crash of the machine itself may
cost queued messages, which the same safety nets recover.
"""

import fcntl
import logging
import os
import time
import uuid
from collections import deque
from pathlib import Path
from queue import Empty
from urllib.parse import quote

from kombu.exceptions import ChannelError
from kombu.transport import filesystem, virtual
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

_FOLDERS = ("staging", "queues", "claimed", "bindings", "broken")


class Channel(filesystem.Channel):
    """kombu's filesystem channel (fanout, exchange-name checks) with atomic puts, claims and bindings."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # made here, not in settings: importing settings must not touch the disk
        for name in _FOLDERS:
            (self.data_folder / name).mkdir(parents=True, exist_ok=True)
        # names seen in a queue's last listing and not taken yet: one listing serves many gets
        self._listed = {}

    @property
    def data_folder(self):
        return Path(self.transport_options["data_folder"])

    @property
    def control_folder(self):  # where the inherited _exchange_file() puts the routing tables
        return self.data_folder / "bindings"

    def _queue_folder(self, queue):
        # queue names come from Celery (celery, periodic, <node>.celery.pidbox, ...): quoting keeps any name
        # inside queues/, and a name of dots only would name queues/ itself or its parent
        name = quote(queue, safe="@")
        if not name.strip("."):
            raise ChannelError(f"Invalid queue name: {queue!r}")
        return self.data_folder / "queues" / name

    # --- messages ------------------------------------------------------------------------------------
    def _new_queue(self, queue, **kwargs):
        self._queue_folder(queue).mkdir(exist_ok=True)

    def _put(self, queue, payload, **kwargs):
        # time first: names sort in the order they were sent; the uuid makes them unique across processes
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex}.msg"
        staging = self.data_folder / "staging" / name
        target = self._queue_folder(queue) / name
        try:
            with open(staging, "xb") as f:
                f.write(dumps(payload).encode())
            try:
                os.rename(staging, target)
            except FileNotFoundError:  # the queue's first message, or its folder went with a deleted queue
                target.parent.mkdir(exist_ok=True)
                os.rename(staging, target)
        except OSError as exc:  # a full disk, say: the publish fails loudly, nothing half-sent stays behind
            staging.unlink(missing_ok=True)
            raise ChannelError(f"Cannot put a message on queue {queue!r}: {exc}") from exc

    def _get(self, queue):
        folder = self._queue_folder(queue)
        listed = self._listed.get(queue)
        for fresh in (False, True):
            if fresh or not listed:
                try:
                    listed = self._listed[queue] = deque(sorted(os.listdir(folder)))
                except FileNotFoundError:  # nothing was ever sent to this queue
                    raise Empty() from None
                fresh = True
            while listed:
                name = listed.popleft()
                claimed = self.data_folder / "claimed" / name
                try:
                    os.rename(folder / name, claimed)
                except FileNotFoundError:  # another consumer took it first
                    continue
                payload = self._read_claimed(claimed)
                if payload is not None:
                    return payload
            if fresh:
                break
        raise Empty()

    def _read_claimed(self, path):
        data = path.read_bytes()
        try:
            payload = loads(data.decode())
        except ValueError:
            # only a crash of the machine can tear a message (it was renamed in complete): keep the worker alive
            os.rename(path, self.data_folder / "broken" / path.name)
            logger.error("broker: set aside %s, which is not a message (%d bytes)", path.name, len(data))
            return None
        path.unlink()
        return payload

    def _purge(self, queue):
        folder = self._queue_folder(queue)
        count = 0
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return 0
        for name in names:
            try:
                os.unlink(folder / name)
                count += 1
            except FileNotFoundError:  # a consumer took it meanwhile
                pass
        self._listed.pop(queue, None)
        return count

    def _size(self, queue):
        try:
            return len(os.listdir(self._queue_folder(queue)))
        except FileNotFoundError:
            return 0

    # --- routing tables ------------------------------------------------------------------------------
    def get_table(self, exchange):
        # replaced whole by rename: read without a lock, always complete
        try:
            data = self._exchange_file(exchange).read_bytes()
        except FileNotFoundError:
            return []
        return [filesystem.exchange_queue_t(*binding) for binding in loads(data.decode())]

    def _change_table(self, exchange, change):
        """Apply change(list of bindings) to the exchange's table: read, change and replace under its lock."""
        file = self._exchange_file(exchange)
        with open(file.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # released when the file closes
            bindings = self.get_table(exchange)
            if not change(bindings):
                return
            staging = self.data_folder / "staging" / f"{file.name}-{uuid.uuid4().hex}"
            staging.write_text(dumps(bindings))
            os.rename(staging, file)

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")

        def add(bindings):
            if binding in bindings:
                return False
            bindings.insert(0, binding)
            return True

        self._change_table(exchange, add)

    def _delete(self, queue, exchange, routing_key, pattern, *args, **kwargs):
        binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")

        def remove(bindings):
            if binding not in bindings:
                return False
            bindings.remove(binding)
            return True

        self._change_table(exchange, remove)
        # a deleted queue (a stopped worker's remote-control queue) takes its messages and its folder along
        self._purge(queue)
        try:
            self._queue_folder(queue).rmdir()
        except OSError:  # a message arrived meanwhile, or the folder is already gone
            pass


class Transport(filesystem.Transport):
    Channel = Channel
    global_state = virtual.BrokerState()  # the in-process declarations, apart from kombu's own transport
    driver_name = "soraweb-files"  # driver_type stays "filesystem": Celery keeps mingle and gossip off
    # the worker sleeps this long whenever it finds nothing to take; kombu's 1 s would add up to a second to
    # every step of a render, and ten listings of a few folders a second cost nothing
    polling_interval = 0.1
    # and this long while a channel's prefetch is full (late acks: every task in the pool holds a slot): the ack
    # comes from the pool's result thread at any moment, and the next message should not wait a whole polling
    # interval for it; a hundred checks a second, listing at most the remote-control queue, cost nothing either
    prefetch_full_interval = 0.01

    def drain_events(self, connection, timeout=None):
        """kombu's loop (deliver one message, or time out), sleeping the shorter interval while a prefetch is full."""
        started = time.monotonic()
        while True:
            try:
                self.cycle.get(self._deliver, timeout=timeout)
                return
            except Empty:
                waited = time.monotonic() - started
                if timeout is not None and waited >= timeout:
                    raise TimeoutError() from None
                full = any(channel._consumers and channel.qos.prefetch_count and not channel.qos.can_consume()
                           for channel in self.channels)
                interval = self.prefetch_full_interval if full else self.polling_interval
                time.sleep(interval if timeout is None else min(interval, timeout - waited))
