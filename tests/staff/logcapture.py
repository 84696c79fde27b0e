"""Every log record of every logger, at DEBUG, SQL included: for proofs that a secret never reaches a log.

    with all_logs() as records:
        ...
        with records.paused():      # the test's own setup calls, which are not the app (e.g. sorasim's admin API)
            ...
    assert not records.containing(secret)
"""

import contextlib
import logging

from django.db import connections


class _Collector(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.texts = []
        self.loggers = set()
        self.active = True
        self.formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")

    def emit(self, record):
        if not self.active:
            return
        # the formatted line (message, args, traceback) and every attribute of the record, as written now
        text = self.format(record)
        text += "\n" + repr({k: v for k, v in record.__dict__.items() if k not in ("msg", "args")})
        text += "\n" + repr(record.msg) + repr(record.args)
        self.texts.append(text)
        self.loggers.add(record.name)

    def containing(self, needle):
        return [text for text in self.texts if needle in text]

    @contextlib.contextmanager
    def paused(self):
        self.active = False
        try:
            yield
        finally:
            self.active = True


@contextlib.contextmanager
def all_logs():
    """Root at DEBUG with a collecting handler; every existing logger at DEBUG, enabled and propagating; every
    database connection logging its SQL with parameters (Django does so only in DEBUG otherwise)."""
    collector = _Collector()
    root = logging.getLogger()
    loggers = [root] + [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    saved = [(lg, lg.level, lg.propagate, lg.disabled) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.disabled = False
        if lg is not root:
            lg.propagate = True
    root.addHandler(collector)
    debug_cursors = [(conn, conn.force_debug_cursor) for conn in connections.all()]
    for conn, _ in debug_cursors:
        conn.force_debug_cursor = True
    try:
        yield collector
    finally:
        root.removeHandler(collector)
        for lg, level, propagate, disabled in saved:
            lg.setLevel(level)
            lg.propagate = propagate
            lg.disabled = disabled
        for conn, value in debug_cursors:
            conn.force_debug_cursor = value
