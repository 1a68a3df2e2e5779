"""How a tracker totals requests, what its summary prints, and which trackers see a request."""

from __future__ import annotations

import contextvars
import re
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from workersai import Usage
from workersai.usage import (
    ModelUsage,
    UsageScope,
    UsageTotals,
    UsageTracker,
    active_trackers,
    is_tracking,
    record_request,
    track_usage,
)

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"  # 0.29 / 2.25 USD per M tokens (snapshot)
BGE = "@cf/baai/bge-base-en-v1.5"  # 0.067 USD per M input tokens
UNPRICED = "@cf/meta/llama-3.1-8b-instruct-fast"  # no published price
NEW = "@cf/brand-new/model"  # not in the catalog


def _llama_usd(prompt: int, completion: int) -> float:
    return prompt * 0.29e-6 + completion * 2.25e-6


# -- totals ----------------------------------------------------------------------------------


def test_adding_totals_sums_every_count_and_lists_each_reason_once() -> None:
    total = ModelUsage(1, 2, 3, 4, 5, 6, 7.5, 0.25, 1, 1, ("no published price",))
    total.add(
        ModelUsage(10, 20, 30, 40, 50, 60, 70.0, 0.5, 2, 3, ("no price", "no published price"))
    )
    assert total == ModelUsage(
        11, 22, 33, 44, 55, 66, 77.5, 0.75, 3, 4, ("no published price", "no price")
    )


def test_a_request_is_recorded_with_every_count_of_its_usage() -> None:
    tracker = UsageTracker()
    full = Usage(1000, 200, 1200, cached_tokens=300, reasoning_tokens=50, neurons=4.5)
    cost = tracker.record(LLAMA, full)
    assert cost.usd == pytest.approx(_llama_usd(1000, 200))
    tracker.record(LLAMA, Usage(10, 5, 15))  # no cached/reasoning/neurons: they add 0
    assert tracker.by_model[LLAMA] == ModelUsage(
        requests=2,
        prompt_tokens=1010,
        completion_tokens=205,
        total_tokens=1215,
        cached_tokens=300,
        reasoning_tokens=50,
        neurons=4.5,
        known_usd=pytest.approx(_llama_usd(1010, 205)),  # type: ignore[arg-type]
    )


def test_unpriced_requests_count_with_their_reason_and_leave_the_total_unknown() -> None:
    tracker = UsageTracker()
    cost = tracker.record(NEW, Usage(5, 5, 10))
    assert (cost.usd, cost.reason) == (None, "no published price")
    tracker.record(NEW, Usage(5, 5, 10))
    tracker.record(BGE, None)
    new, bge = tracker.by_model[NEW], tracker.by_model[BGE]
    assert (new.requests, new.unpriced_requests, new.unpriced_reasons) == (
        2,
        2,
        ("no published price",),
    )
    assert (new.prompt_tokens, new.requests_without_usage, new.known_usd) == (10, 0, 0.0)
    assert (bge.requests_without_usage, bge.unpriced_reasons) == (1, ("no token usage reported",))
    assert (new.usd, bge.usd, tracker.total.usd) == (None, None, None)
    tracker.record(LLAMA, Usage(1000, 0, 1000))
    assert tracker.by_model[LLAMA].usd == pytest.approx(_llama_usd(1000, 0))
    assert tracker.total.usd is None and tracker.total.known_usd == pytest.approx(290e-6)
    assert tracker.total.unpriced_reasons == ("no published price", "no token usage reported")


@pytest.mark.parametrize(
    ("usage", "text"),
    [
        (ModelUsage(requests=2, known_usd=0.0012345), "0.001234"),
        (ModelUsage(requests=2, known_usd=0.0012345, unpriced_requests=1), ">=0.001234"),
        (ModelUsage(requests=2, unpriced_requests=2), "unknown"),
        (ModelUsage(), "0.000000"),
    ],
)
def test_the_usd_text_says_when_a_total_is_a_lower_bound_or_unknown(
    usage: ModelUsage, text: str
) -> None:
    assert usage.usd_text() == text


def test_snapshots_are_sorted_copies_and_reset_starts_from_zero() -> None:
    tracker = UsageTracker()
    tracker.record(LLAMA, Usage(1, 1, 2))
    tracker.record(BGE, Usage(1, 0, 1))
    snapshot = dict(tracker)
    assert [model for model, _ in tracker] == [BGE, LLAMA]
    snapshot[LLAMA].requests = 99  # a copy: the tracker's totals are not touched
    assert tracker.by_model[LLAMA].requests == 1
    assert tracker.total.requests == 2
    tracker.reset()
    assert (tracker.by_model, list(tracker), tracker.total) == ({}, [], ModelUsage())


# -- the summary ------------------------------------------------------------------------------

STAMP = r"Estimate as of \d{4}-\d\d-\d\d \d\d:\d\d UTC; the daily free allocation \(10,000 neurons\) is not deducted\."
ROW = "{:<46} {:>8} {:>9} {:>9} {:>9} {:>10}"


def _summary_lines(tracker: UsageTracker) -> tuple[list[str], str, str]:
    *lines, prices, stamp = tracker.summary().split("\n")
    assert re.fullmatch(STAMP, stamp), stamp
    return lines, prices, stamp


def test_a_priced_run_prints_one_row_per_model_and_the_total() -> None:
    tracker = UsageTracker()
    tracker.record(LLAMA, Usage(1000, 200, 1200, neurons=12.25))
    tracker.record(BGE, Usage(3000, 0, 3000))
    lines, prices, _ = _summary_lines(tracker)
    llama, bge = _llama_usd(1000, 200), 3000 * 0.067e-6
    assert lines == [
        ROW.format("model", "requests", "input", "output", "neurons", "est. USD"),
        ROW.format(BGE, 1, 3000, 0, "-", f"{bge:.6f}"),
        ROW.format(LLAMA, 1, 1000, 200, "12.2", f"{llama:.6f}"),
        ROW.format("total", 2, 4000, 200, "12.2", f"{llama + bge:.6f}"),
    ]
    assert prices.startswith("Prices: bundled price table of ") and prices.endswith(
        "; call WorkersAI().list_models() to refresh."
    )


def test_a_run_with_no_price_at_all_says_unknown_and_why() -> None:
    tracker = UsageTracker()
    tracker.record(NEW, Usage(7, 3, 10))
    tracker.record(UNPRICED, None)
    tracker.record(BGE, None)
    tracker.record(BGE, Usage(4, 1, 5))  # an embedding model has no output price
    lines, _, _ = _summary_lines(tracker)
    assert lines[1:] == [
        ROW.format(BGE, 2, 4, 1, "-", "unknown"),
        ROW.format(NEW, 1, 7, 3, "-", "unknown"),
        ROW.format(UNPRICED, 1, 0, 0, "-", "unknown"),
        ROW.format("total", 4, 11, 4, "-", "unknown"),
        f"Estimated cost unknown (4 of 4 requests unpriced: {BGE}: no token usage reported, "
        f"no published output-token price; {NEW}: no published price; "
        f"{UNPRICED}: no published price).",
    ]


def test_the_summary_is_stamped_in_utc_whatever_the_local_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "XYZ-14")  # POSIX for UTC+14: no tz database needed
    time.tzset()
    try:
        _, _, stamp = _summary_lines(UsageTracker())
        now = datetime.now(timezone.utc).replace(tzinfo=None)
    finally:
        monkeypatch.undo()
        time.tzset()
    match = re.search(r"as of (\d{4}-\d\d-\d\d \d\d:\d\d) UTC", stamp)
    assert match is not None
    assert abs(datetime.strptime(match.group(1), "%Y-%m-%d %H:%M") - now) < timedelta(minutes=2)


def test_an_empty_tracker_prints_the_header_the_zero_total_and_every_price_source() -> None:
    lines, prices, _ = _summary_lines(UsageTracker())
    assert lines[1:] == [ROW.format("total", 0, 0, 0, "-", "0.000000")]
    assert prices.startswith("Prices: bundled price table of ")  # every model's source


# -- what the framework handlers share -------------------------------------------------------


class _Handler(UsageTotals):
    def __init__(self) -> None:
        self.tracker = UsageTracker()


def test_the_handlers_read_the_totals_and_print_the_summary() -> None:
    handler = _Handler()
    handler.tracker.record(
        LLAMA, Usage(1000, 200, 1250, cached_tokens=100, reasoning_tokens=30, neurons=2.5)
    )
    handler.tracker.record(BGE, Usage(500, 0, 500))
    counts = (
        handler.requests,
        handler.prompt_tokens,
        handler.completion_tokens,
        handler.total_tokens,
        handler.cached_tokens,
        handler.reasoning_tokens,
        handler.neurons,
        handler.unpriced_requests,
    )
    assert counts == (2, 1500, 200, 1750, 100, 30, 2.5, 0)
    usd = _llama_usd(1000, 200) + 500 * 0.067e-6
    assert handler.total_cost == pytest.approx(usd) and handler.known_cost == handler.total_cost
    assert sorted(handler.by_model) == [BGE, LLAMA]
    assert handler.by_model[BGE].prompt_tokens == 500
    assert repr(handler) == (
        f"_Handler(requests=2, prompt_tokens=1500, completion_tokens=200, neurons=2.5, usd={usd:.6f})"
    )
    assert str(handler).split("\n")[:-1] == handler.tracker.summary().split("\n")[:-1]
    handler.tracker.record(NEW, Usage(1, 1, 2))
    assert repr(handler) == (
        "_Handler(requests=3, prompt_tokens=1501, completion_tokens=201, neurons=2.5, "
        f"usd=unknown, known_usd={usd:.6f}, unpriced_requests=1)"
    )
    assert handler.summary().split("\n")[:-1] == handler.tracker.summary().split("\n")[:-1]
    handler.reset()
    assert (handler.requests, handler.total_cost, handler.by_model) == (0, 0.0, {})


# -- which trackers see a request -------------------------------------------------------------


def test_attached_trackers_are_each_counted_once() -> None:
    first, second = UsageTracker(), UsageTracker()
    try:
        first.attach()
        assert second.attach() is second
        first.attach()  # attaching again changes nothing
        assert active_trackers() == (first, second)
        with track_usage(second):  # active in context too: still one tracker
            assert active_trackers() == (second, first)
            record_request(LLAMA, Usage(1, 1, 2))
        first.detach()
        assert active_trackers() == (second,) and not is_tracking(first)
        record_request(LLAMA, Usage(1, 1, 2))
    finally:
        first.detach()
        second.detach()
    record_request(LLAMA, Usage(1, 1, 2))
    assert (first.total.requests, second.total.requests) == (1, 2)
    assert active_trackers() == ()


def test_a_block_tracks_only_inside_it_and_makes_its_own_tracker() -> None:
    assert active_trackers() == ()
    with track_usage() as tracker:
        assert isinstance(tracker, UsageTracker) and is_tracking(tracker)
        record_request(LLAMA, Usage(1, 1, 2))
    assert not is_tracking(tracker) and active_trackers() == ()
    record_request(LLAMA, Usage(1, 1, 2))
    assert tracker.total.requests == 1


def test_closing_a_scope_twice_or_over_an_active_tracker_is_harmless() -> None:
    tracker = UsageTracker()
    scope = UsageScope(tracker)
    assert is_tracking(tracker)
    assert scope.close() is True
    assert scope.close() is True  # already closed: nothing to undo
    assert not is_tracking(tracker)
    with track_usage(tracker):
        inner = UsageScope(tracker)  # the tracker is already active: nothing pushed
        assert inner.close() is True
        assert is_tracking(tracker)  # the block's tracking is untouched
        record_request(LLAMA, Usage(1, 1, 2))
    assert tracker.total.requests == 1


def test_a_scope_closed_in_another_thread_stops_recording_where_it_was_inherited() -> None:
    tracker = UsageTracker()
    scope = UsageScope(tracker)
    inherited = contextvars.copy_context()  # what a thread or task started inside inherits
    assert inherited.run(is_tracking, tracker)
    closed: list[bool] = []
    closer = threading.Thread(target=lambda: closed.append(scope.close()))
    closer.start()
    closer.join()
    assert closed == [False]  # closed from a context that never had it...
    assert not is_tracking(tracker)  # ...and closed here
    assert not inherited.run(is_tracking, tracker)  # and where it was inherited
    inherited.run(record_request, LLAMA, Usage(1, 1, 2))
    record_request(LLAMA, Usage(1, 1, 2))
    assert tracker.total.requests == 0
