"""Reading time derived from event logs: exact totals for hidden, paused and idle intervals and reloads."""

import random

from readerstudy.reading.timing import Event, derive_times

IDLE_MS = 60_000
A, B = "page-load-a", "page-load-b"


def log(page, *events):
    return [
        Event(page, type_, float(ms), payload) for type_, ms, *rest in events for payload in [rest[0] if rest else None]
    ]


def times(events, threshold=IDLE_MS):
    return derive_times(events, threshold).as_dict()


def test_the_clock_runs_from_the_first_rendered_image_to_submit():
    events = log(A, ("page_shown", 0), ("image_rendered", 1_500), ("input", 20_000), ("submit", 41_500))
    assert times(events) == {"total_ms": 40_000, "hidden_ms": 0, "idle_ms": 0, "active_ms": 40_000}


def test_a_hidden_tab_is_excluded():
    events = log(
        A,
        ("image_rendered", 0),
        ("input", 10_000),
        ("hidden", 12_000),
        ("visible", 17_000),
        ("input", 18_000),
        ("submit", 30_000),
    )
    assert times(events) == {"total_ms": 30_000, "hidden_ms": 5_000, "idle_ms": 0, "active_ms": 25_000}


def test_an_explicit_pause_is_excluded_and_overlapping_pause_and_hidden_count_once():
    events = log(
        A,
        ("image_rendered", 0),
        ("pause", 10_000),
        ("hidden", 15_000),
        ("visible", 40_000),
        ("resume", 45_000),
        ("hidden", 50_000),
        ("pause", 52_000),
        ("resume", 55_000),
        ("visible", 58_000),
        ("submit", 60_000),
    )
    # Away from 10 s to 45 s and from 50 s to 58 s.
    assert times(events) == {"total_ms": 60_000, "hidden_ms": 43_000, "idle_ms": 0, "active_ms": 17_000}


def test_only_the_part_of_an_input_free_gap_beyond_the_threshold_is_idle():
    events = log(
        A,
        ("image_rendered", 0),
        ("input", 5_000),
        ("input", 95_000),
        ("interaction_start", 100_000),
        ("interaction_end", 101_000),
        ("submit", 170_000),
    )
    # Gaps: 90 s (30 s idle) and 69 s (9 s idle).
    assert times(events) == {"total_ms": 170_000, "hidden_ms": 0, "idle_ms": 39_000, "active_ms": 131_000}


def test_idle_is_not_counted_inside_hidden_time():
    events = log(
        A,
        ("image_rendered", 0),
        ("input", 1_000),
        ("hidden", 50_000),
        ("visible", 250_000),
        ("input", 260_000),
        ("submit", 270_000),
    )
    # 49 s before hiding and 10 s after: neither exceeds 60 s; the 200 s hidden are hidden, not idle.
    assert times(events) == {"total_ms": 270_000, "hidden_ms": 200_000, "idle_ms": 0, "active_ms": 70_000}


def test_an_idle_gap_that_ends_in_hiding_the_tab_counts_up_to_the_hiding():
    events = log(A, ("image_rendered", 0), ("hidden", 100_000), ("visible", 130_000), ("submit", 140_000))
    assert times(events) == {"total_ms": 140_000, "hidden_ms": 30_000, "idle_ms": 40_000, "active_ms": 70_000}


def test_a_reload_sums_both_page_loads_and_not_the_time_between_them():
    first = log(A, ("page_shown", 0), ("image_rendered", 2_000), ("input", 30_000), ("hidden", 32_000))
    # The second page's clock starts again at zero; the reader came back the next day.
    second = log(B, ("page_shown", 0), ("image_rendered", 800), ("input", 10_000), ("submit", 20_800))
    assert times(first + second) == {"total_ms": 50_000, "hidden_ms": 0, "idle_ms": 0, "active_ms": 50_000}


def test_events_in_any_arrival_order_give_the_same_times():
    events = log(
        A,
        ("image_rendered", 0),
        ("input", 10_000),
        ("hidden", 12_000),
        ("visible", 17_000),
        ("input", 100_000),
        ("submit", 101_000),
    )
    shuffled = events[:]
    random.Random(4).shuffle(shuffled)
    assert (
        times(shuffled)
        == times(events)
        == {"total_ms": 101_000, "hidden_ms": 5_000, "idle_ms": 23_000, "active_ms": 73_000}
    )


def test_a_page_load_whose_image_never_rendered_is_no_reading_time():
    events = log(A, ("page_shown", 0), ("input", 5_000), ("submit", 9_000))
    assert times(events) == {"total_ms": 0, "hidden_ms": 0, "idle_ms": 0, "active_ms": 0}


def test_events_after_submit_do_not_extend_the_reading():
    events = log(A, ("image_rendered", 0), ("submit", 10_000), ("hidden", 11_000), ("input", 30_000))
    assert times(events) == {"total_ms": 10_000, "hidden_ms": 0, "idle_ms": 0, "active_ms": 10_000}


def test_a_page_opened_in_a_background_tab_starts_hidden():
    events = log(
        A, ("page_shown", 0, {"visibility": "hidden"}), ("image_rendered", 500), ("visible", 8_500), ("submit", 18_500)
    )
    assert times(events) == {"total_ms": 18_000, "hidden_ms": 8_000, "idle_ms": 0, "active_ms": 10_000}


def test_half_milliseconds_round_up_as_in_the_browser():
    events = log(A, ("image_rendered", 0.0), ("submit", 354.5))
    assert times(events)["active_ms"] == 355


def test_a_sequential_reads_first_phase_ends_at_its_commit_and_the_phases_add_up_to_the_read():
    # A reload before the commit, idle on both sides of it, a hidden interval after it.
    first_page = log(A, ("image_rendered", 0), ("input", 5_000))
    second_page = log(
        B,
        ("image_rendered", 0),
        ("input", 70_000),  # 10 s idle beyond the 60 s threshold
        ("unaided_commit", 80_000),
        ("input", 150_000),  # 10 s idle again, measured from the commit
        ("hidden", 151_000),
        ("visible", 156_000),
        ("submit", 160_000),
    )
    events = first_page + second_page
    first = derive_times([e for e in events if e.client_ms <= 80_000], IDLE_MS, end="unaided_commit")
    whole = derive_times(events, IDLE_MS)
    assert first.as_dict() == {"total_ms": 85_000, "hidden_ms": 0, "idle_ms": 10_000, "active_ms": 75_000}
    assert whole.as_dict() == {"total_ms": 165_000, "hidden_ms": 5_000, "idle_ms": 20_000, "active_ms": 140_000}
    # After the commit: 80 s, less 5 s hidden and 10 s idle.
    assert whole.active_ms - first.active_ms == (160_000 - 80_000) - 5_000 - 10_000
