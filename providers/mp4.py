"""A streaming check of an MP4 file: are all top-level boxes complete, and what is the movie's duration?

Fed chunk by chunk while a download streams to disk, it keeps only the `moov` box in memory (the index:
kilobytes for a clip of seconds) and counts its way past everything else (`mdat`, padding), so memory
stays constant for any file size. No Django imports.
"""

import struct

MAX_MOOV_BYTES = 32 * 1024 * 1024  # a moov this big is not a short clip's index
# what an MP4 (or QuickTime) file may start with; anything else is not one (an HTML error page, say)
FIRST_BOXES = {"ftyp", "styp", "free", "skip", "wide", "mdat", "moov", "pdin", "uuid", "sidx", "junk"}


class Mp4Error(ValueError):
    pass


class Mp4Scanner:
    def __init__(self):
        self.offset = 0  # bytes seen
        self._header = bytearray()  # the header of the box being read, until complete
        self._remaining = 0  # body bytes of the current top-level box still to come
        self._to_end = False  # the current box has size 0: it runs to the end of the file
        self._moov = None  # bytearray while inside moov
        self.kinds = set()  # top-level box types seen
        self.box_count = 0
        self.duration_seconds = None

    def feed(self, data):
        view = memoryview(data)
        self.offset += len(view)
        while view:
            if self._remaining or self._to_end:
                take = len(view) if self._to_end else min(self._remaining, len(view))
                if self._moov is not None:
                    if len(self._moov) + take > MAX_MOOV_BYTES:
                        raise Mp4Error("the moov box is implausibly large")
                    self._moov += view[:take]
                if not self._to_end:
                    self._remaining -= take
                    if not self._remaining:
                        self._end_box()
                view = view[take:]
                continue
            # a box header: 8 bytes, or 16 when the 32-bit size is 1 (a 64-bit size follows the type)
            need = 16 if len(self._header) >= 4 and self._header[:4] == b"\0\0\0\1" else 8
            take = min(need - len(self._header), len(view))
            self._header += view[:take]
            view = view[take:]
            if len(self._header) == 8 and self._header[:4] == b"\0\0\0\1":
                continue  # the 64-bit size is still to come
            if len(self._header) == need:
                self._start_box()

    def _start_box(self):
        size, kind = struct.unpack(">I4s", self._header[:8])
        header_len = len(self._header)
        if header_len == 16:
            (size,) = struct.unpack(">Q", self._header[8:16])
        if not all(32 <= b < 127 for b in kind) or (not self.box_count and kind.decode() not in FIRST_BOXES):
            raise Mp4Error(f"not an MP4 file (box {self.box_count + 1} has no valid type)")
        kind = kind.decode("ascii")
        if size != 0 and size < header_len:
            raise Mp4Error(f"box {kind!r} has an impossible size {size}")
        self.kinds.add(kind)
        self.box_count += 1
        self._header.clear()
        self._to_end = size == 0
        self._remaining = 0 if size == 0 else size - header_len
        self._moov = bytearray() if kind == "moov" else None
        if not self._to_end and not self._remaining:
            self._end_box()

    def _end_box(self):
        if self._moov is not None:
            self.duration_seconds = movie_duration(bytes(self._moov))
            self._moov = None

    def finish(self):
        """Check the file ended on a box boundary and had a duration; return the duration in seconds."""
        if self._to_end and self._moov is not None:
            self._end_box()
        if self._header or self._remaining:
            raise Mp4Error(f"the file ends inside a box (after {self.offset} bytes)")
        if "moov" not in self.kinds:
            raise Mp4Error("the file has no moov box")
        if not self.duration_seconds or self.duration_seconds <= 0:
            raise Mp4Error("the movie has no duration")
        return self.duration_seconds


def _children(data):
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > len(data):
                return
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
            header = 16
        elif size == 0:
            size = len(data) - pos
        if size < header or pos + size > len(data):
            return
        yield kind.decode("latin-1"), data[pos + header : pos + size]
        pos += size


def _full_box_time(body, v1_offsets, v0_offsets):
    """(timescale, duration) from an mvhd/mdhd body: version 1 uses 64-bit times."""
    if not body:
        return None
    if body[0] == 1:
        ts_at, dur_at = v1_offsets
        if len(body) < dur_at + 8:
            return None
        return struct.unpack(">I", body[ts_at : ts_at + 4])[0], struct.unpack(">Q", body[dur_at : dur_at + 8])[0]
    ts_at, dur_at = v0_offsets
    if len(body) < dur_at + 4:
        return None
    return struct.unpack(">I", body[ts_at : ts_at + 4])[0], struct.unpack(">I", body[dur_at : dur_at + 4])[0]


_UNKNOWN = {0, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF}


def movie_duration(moov):
    """Seconds from mvhd (timescale, duration); fragmented files: mvex/mehd; else the longest track's mdhd."""
    boxes = dict(_children(moov))
    timescale = None
    mvhd = _full_box_time(boxes.get("mvhd", b""), (20, 24), (12, 16))
    if mvhd:
        timescale, duration = mvhd
        if timescale and duration not in _UNKNOWN:
            return duration / timescale
    mehd = dict(_children(boxes.get("mvex", b""))).get("mehd")
    if timescale and mehd and len(mehd) >= 8:
        duration = struct.unpack(">Q", mehd[4:12])[0] if mehd[0] == 1 and len(mehd) >= 12 else None
        if duration is None:
            duration = struct.unpack(">I", mehd[4:8])[0]
        if duration not in _UNKNOWN:
            return duration / timescale
    longest = None
    for kind, trak in _children(moov):
        if kind != "trak":
            continue
        mdia = dict(_children(trak)).get("mdia", b"")
        mdhd = _full_box_time(dict(_children(mdia)).get("mdhd", b""), (20, 24), (12, 16))
        if mdhd and mdhd[0] and mdhd[1] not in _UNKNOWN:
            seconds = mdhd[1] / mdhd[0]
            longest = seconds if longest is None else max(longest, seconds)
    return longest
