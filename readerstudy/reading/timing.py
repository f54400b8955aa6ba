"""Reading time derived from the browser's event log (the study's primary measurement; ARCHITECTURE.md).

Per page load, with the page's own performance.now() clock:
- the reading runs from the first `image_rendered` to `submit`; a page load that was never submitted ends
  at its last event, and the time between page loads is not reading time;
- hidden: time with the tab hidden or the reading explicitly paused (their union, counted once);
- idle: in visible, unpaused time, the part of each gap between signs of a present reader that exceeds the
  study's idle threshold;
- active = total - hidden - idle.
Each page load's times are summed. Event order within a page load comes from its clock, not arrival order.

A sequential read's first phase is the same derivation ending at `unaided_commit` instead of `submit`, over the
events stored when it was committed; the commit is a sign of presence, so the idle gaps of the whole read
split at it and the aided phase is the read's active time less the first phase's.
"""

import math
from dataclasses import dataclass
from itertools import groupby

START = "image_rendered"
END = "submit"
UNAIDED_END = "unaided_commit"
# Events that show a reader at the workstation; becoming visible or resuming starts a new gap too.
PRESENCE = frozenset(
    {
        "image_rendered",
        "ai_panel_scrolled",
        "annotation_added",
        "interaction_start",
        "interaction_end",
        "input",
        "unaided_commit",
        "visible",
        "resume",
        "submit",
    }
)
AWAY_OPEN = {"hidden": "hidden", "pause": "paused"}
AWAY_CLOSE = {"visible": "hidden", "resume": "paused"}


@dataclass(frozen=True)
class Event:
    page_load_id: str
    type: str
    client_ms: float
    payload: dict | None = None


@dataclass(frozen=True)
class ReadingTimes:
    total_ms: int
    hidden_ms: int
    idle_ms: int

    @property
    def active_ms(self):
        return self.total_ms - self.hidden_ms - self.idle_ms

    def __add__(self, other):
        return ReadingTimes(
            self.total_ms + other.total_ms, self.hidden_ms + other.hidden_ms, self.idle_ms + other.idle_ms
        )

    def as_dict(self):
        return {
            "total_ms": self.total_ms,
            "hidden_ms": self.hidden_ms,
            "idle_ms": self.idle_ms,
            "active_ms": self.active_ms,
        }


NO_TIME = ReadingTimes(0, 0, 0)


def derive_times(events, idle_threshold_ms, end=END):
    """Sum the reading times of every page load in `events` (any order, any mix of page loads), each ending at
    its `end` event (UNAIDED_END: a sequential read's first phase)."""
    ordered = sorted(events, key=lambda e: (str(e.page_load_id), e.client_ms))
    times = NO_TIME
    for _, page_events in groupby(ordered, key=lambda e: str(e.page_load_id)):
        times = times + page_load_times(list(page_events), idle_threshold_ms, end)
    return times


def page_load_times(events, idle_threshold_ms, end_type=END):
    """Times of one page load; `events` sorted by client_ms."""
    start_index = next((i for i, e in enumerate(events) if e.type == START), None)
    if start_index is None:
        return NO_TIME  # the image never appeared: no reading happened on this page load
    end_index = next((i for i, e in enumerate(events) if e.type == end_type and i > start_index), len(events) - 1)
    start, end = events[start_index].client_ms, events[end_index].client_ms
    away = _away_state_at_start(events[:start_index])
    hidden = idle = 0.0
    segment_start = last_presence = start
    for event in events[start_index + 1 : end_index + 1]:
        was_away = bool(away)
        if event.type in AWAY_OPEN:
            away.add(AWAY_OPEN[event.type])
        elif event.type in AWAY_CLOSE:
            away.discard(AWAY_CLOSE[event.type])
        now_away = bool(away)
        if not was_away and now_away:
            idle += _excess(event.client_ms - last_presence, idle_threshold_ms)
            segment_start = event.client_ms
        elif was_away and not now_away:
            hidden += event.client_ms - segment_start
            last_presence = event.client_ms
        elif not now_away and event.type in PRESENCE:
            idle += _excess(event.client_ms - last_presence, idle_threshold_ms)
            last_presence = event.client_ms
    if away:
        hidden += end - segment_start
    else:
        idle += _excess(end - last_presence, idle_threshold_ms)
    total, hidden = _round(end - start), _round(hidden)
    # Rounding each part separately must not push active time below zero.
    return ReadingTimes(total, hidden, min(_round(idle), total - hidden))


def _round(ms):
    """Half up, as the page's Math.round does, so the client's cross-check totals agree to the millisecond."""
    return math.floor(ms + 0.5)


def _away_state_at_start(before_start):
    """Whether the tab was hidden or paused when the image first rendered (e.g. opened in a background tab)."""
    away = set()
    for event in before_start:
        if event.type == "page_shown" and (event.payload or {}).get("visibility") == "hidden":
            away.add("hidden")
        elif event.type in AWAY_OPEN:
            away.add(AWAY_OPEN[event.type])
        elif event.type in AWAY_CLOSE:
            away.discard(AWAY_CLOSE[event.type])
    return away


def _excess(gap_ms, threshold_ms):
    return max(0.0, gap_ms - threshold_ms)
