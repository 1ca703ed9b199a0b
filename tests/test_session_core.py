"""The Session's state machine and flow control, driven by hand: a manual clock, a fake sink, no threads, no sleeps."""

import concurrent.futures

import numpy as np
import pytest

import semanticdraw_widgets as sdw
from helpers import rect_mask
from semanticdraw_widgets.backends.toy import ToyBackend
from semanticdraw_widgets.runtime.core import STATES, SessionCore, SessionStatus, run_tick_job
from semanticdraw_widgets.runtime.flow import FlowControl
from semanticdraw_widgets.runtime.session import encode_image

SIZE = 64


def scene(prompt="red", seed=0):
    return sdw.Scene(width=SIZE, height=SIZE, seed=seed, background=sdw.Background(prompt="white"),
                     regions=[sdw.Region(prompt=prompt, mask=rect_mask(SIZE, SIZE, 0, 0, 32, 32))])


class Harness:
    """Plays the Session's loop thread: runs ticks and encodes synchronously, time moves only when told."""

    def __init__(self, backend=None, steps=2, first=None, **options):
        self.backend = backend or ToyBackend()
        self.stream = sdw.Stream(self.backend, first or scene(), steps)
        self.core = SessionCore(self.stream, epoch=7, **options)
        self.now = 100.0
        self.received = {}  # sink id -> frames it got

    def add_sink(self, window=None):
        frames = []
        sink_id = self.core.add_sink(frames.append, window, self.now)
        self.received[sink_id] = frames
        self.flush()
        return sink_id, frames

    def flush(self):
        while True:
            deliveries, encodes = self.core.take_outbox()
            if not deliveries and not encodes:
                return
            for sink, encoded in deliveries:
                sink(encoded)
            for request in encodes:
                self.core.encoded(request, encode_image(request.frame.image, request.mime))

    def run(self, limit=50):
        """Tick while the core wants to; returns the number of ticks run."""
        ticks = 0
        while self.core.want_tick(self.now) and ticks < limit:
            job = self.core.begin_tick()
            try:
                frame = run_tick_job(self.stream, job)
            except Exception as error:
                self.core.tick_failed(job, error, self.now)
            else:
                self.core.tick_done(job, frame, self.now)
            self.flush()
            ticks += 1
        return ticks

    def advance(self, seconds):
        self.now += seconds
        self.core.timers_due(self.now)
        self.flush()

    def ack_all(self, sink_id):
        frames = self.received[sink_id]
        self.core.ack(sink_id, frames[-1].seq, self.now)
        self.flush()


def started(harness):
    harness.core.start()
    return harness


def test_flow_control_is_a_cumulative_window_where_the_newest_waiting_frame_wins():
    class F:
        def __init__(self, seq):
            self.seq = seq

    flow = FlowControl(window=2, ack_timeout=5.0, last_ack=0.0)
    assert flow.offer(F(1)).seq == 1 and flow.offer(F(2)).seq == 2
    assert flow.offer(F(3)) is None and flow.offer(F(4)) is None  # held back; 4 replaces 3
    assert flow.saturated(now=1.0) and flow.saturation_ends() == 5.0
    assert not flow.saturated(now=5.0), "a view silent for ack_timeout is not waited for"
    assert flow.ack(1, now=2.0).seq == 4, "an ack makes room for the newest waiting frame"
    assert flow.unacked == [2, 4] and flow.sent == 3
    assert flow.ack(4, now=3.0) is None and flow.unacked == [], "acks are cumulative"
    with pytest.raises(ValueError, match="at least 1"):
        FlowControl(window=0, ack_timeout=1.0, last_ack=0.0)


def test_a_static_scene_converges_to_generate_then_idles_and_settles_once():
    h = started(Harness(steps=3, settle_delay=0.3))
    sink_id, frames = h.add_sink(window=100)
    assert h.run() == 3 and h.run() == 0, "idle after T ticks: no model calls without a change"
    status = h.core.status
    assert status.state == "idle" and status.converged and status.epoch == 7
    assert np.array_equal(np.asarray(h.core.frame.image), np.asarray(sdw.generate(h.backend, scene(), steps=3)))
    assert [f.mime for f in frames] == ["image/jpeg"] * 3 and [f.seq for f in frames] == [1, 2, 3]
    assert {f.epoch for f in frames} == {7}
    assert h.core.next_deadline(h.now) == pytest.approx(h.now + 0.3)
    h.advance(0.29)
    assert not frames[-1].settled, "the lossless picture waits for settle_delay of quiet"
    h.advance(0.01)
    assert frames[-1].settled and frames[-1].mime == "image/png" and frames[-1].frame is h.core.frame
    h.advance(10)
    assert sum(f.settled for f in frames) == 1


def test_edits_that_keep_coming_postpone_the_png():
    h = started(Harness(steps=2, settle_delay=1.0))
    sink_id, frames = h.add_sink(window=100)
    for colour in ("blue", "green", "red", "blue"):
        h.run()
        h.advance(0.5)  # each picture finishes, but the next edit comes before a second of quiet
        h.core.update(scene(colour))
        assert h.core.next_deadline(h.now) is None, "an edit cancels the pending settle"
    h.run()
    assert any(f.frame.converged for f in frames) and not any(f.settled for f in frames)
    h.advance(1.0)
    assert frames[-1].settled and frames[-1].frame.scene.regions[0].prompt == "blue"


def test_backpressure_waits_for_the_views_ack_and_not_for_a_silent_view():
    backend = ToyBackend()
    h = started(Harness(backend, steps=6, ack_timeout=2.0))
    sink_id, frames = h.add_sink(window=1)
    assert h.run() == 1 and len(frames) == 1
    assert not h.core.want_tick(h.now) and not h.core.idle, "unfinished, yet waiting for the only view's ack"
    assert h.core.next_deadline(h.now) == pytest.approx(h.now + 2.0)
    h.ack_all(sink_id)
    assert h.run() == 1 and len(frames) == 2
    h.advance(2.0)  # the view went silent: stop waiting for it
    assert h.run() == 4 and h.core.status.state == "idle"
    assert len(frames) == 2, "nothing more fits its window; the newest frame waits"
    h.ack_all(sink_id)
    assert frames[-1].frame is h.core.frame, "an ack releases the newest frame, not a stale one"


def test_a_late_sink_gets_the_current_picture_first():
    h = started(Harness(steps=2))
    h.add_sink(window=100)
    h.run()
    assert h.core.status.state == "idle"
    late_id, late = h.add_sink(window=2)
    assert len(late) == 1 and late[0].frame.converged and late[0].frame is h.core.frame
    # while a newer frame's encode is under way, a new sink gets that frame, never the stale picture
    h.core.update(scene("blue"))
    job = h.core.begin_tick()
    h.core.tick_done(job, run_tick_job(h.stream, job), h.now)
    encodes = h.core.outbox_encodes
    newer_sink = []
    h.core.add_sink(newer_sink.append, 2, h.now)
    assert h.core.outbox_deliveries == [] and encodes, "nothing stale is sent"
    h.flush()
    assert len(newer_sink) == 1 and newer_sink[0].frame is h.core.frame


def test_settled_waiters_see_a_truthful_status():
    h = started(Harness(steps=2))
    waiter = concurrent.futures.Future()
    seen = []
    waiter.add_done_callback(lambda f: seen.append(h.core.status))
    h.core.add_settled_waiter(waiter)
    h.run(limit=1)
    assert not waiter.done()
    h.run()
    assert waiter.result().converged and seen[0].state == "idle" and seen[0].converged
    again = concurrent.futures.Future()
    h.core.add_settled_waiter(again)
    assert again.result() is waiter.result(), "idle: resolved at once"


def test_pause_shows_at_once_and_single_steps_tick_once():
    backend = ToyBackend()
    h = started(Harness(backend, steps=3))
    h.core.pause()
    assert h.core.status.state == "paused" and h.run() == 0 and backend.model_calls == 0
    h.core.step()
    assert h.run() == 1 and h.core.frame.step == 1 and h.core.status.state == "paused"
    h.core.resume()
    assert h.core.status.state == "streaming"
    h.run()
    assert h.core.status.state == "idle"


class FlakyToy(ToyBackend):
    """Fails while a prompt mentions 'explode' and `failures` is positive, as an out-of-memory error would."""

    failures = 1

    def encode_prompts(self, prompts):
        if any("explode" in p for p in prompts) and self.failures > 0:
            self.failures -= 1
            raise RuntimeError("CUDA out of memory (simulated)")
        return super().encode_prompts(prompts)


def test_a_failing_tick_keeps_the_picture_and_the_same_scene_object_retries():
    h = started(Harness(FlakyToy(), steps=2))
    h.run()
    good = h.core.frame
    waiter = concurrent.futures.Future()
    exploding = scene("explode red")
    h.core.update(exploding)
    h.core.add_settled_waiter(waiter)
    h.run()
    assert h.core.status.state == "error" and "out of memory" in h.core.status.error
    assert h.core.frame is good and h.run() == 0, "no retry loop: wait for the next request"
    with pytest.raises(RuntimeError, match="the stream failed"):
        waiter.result()
    h.core.update(exploding)  # the very same object: tried again (the failure was transient)
    h.run()
    assert h.core.status.state == "idle" and h.core.status.error is None
    assert h.core.frame.scene is exploding


class PickyToy(ToyBackend):
    def make_schedule(self, steps):
        if steps == 5:
            raise ValueError("steps must be at most 4 with this sampler")
        return super().make_schedule(steps)


def test_reconfigure_applies_between_ticks_keeps_caches_and_refuses_all_or_nothing():
    backend = PickyToy()
    h = started(Harness(backend, steps=2))
    h.run()
    encoded_texts = h.stream.cache.encoded_texts
    reply = concurrent.futures.Future()
    h.core.reconfigure({"steps": 3, "guidance_scale": 2.0}, reply)
    assert h.core.status.state == "streaming" and not h.core.idle
    h.run()
    assert reply.result() is None and h.stream.steps == 3 and h.stream.options.guidance_scale == 2.0
    assert h.core.status.state == "idle"
    expected = sdw.generate(backend, scene(), steps=3, guidance_scale=2.0)
    assert np.array_equal(np.asarray(h.core.frame.image), np.asarray(expected))
    assert h.stream.cache.encoded_texts <= encoded_texts + 2, "only the new unconditional texts were encoded"
    refused = concurrent.futures.Future()
    h.core.reconfigure({"steps": 5, "guidance_scale": 1.0}, refused)
    h.run()
    with pytest.raises(ValueError, match="at most 4"):
        refused.result()
    assert h.stream.steps == 3 and h.stream.options.guidance_scale == 2.0, "the last good settings stay"
    assert "at most 4" in h.core.status.error and h.core.status.state == "idle"
    assert (h.core.status.steps, h.core.status.guidance_scale) == (3, 2.0), "the status says what runs"


def test_stop_fails_waiters_and_the_status_says_stopped():
    h = started(Harness(steps=2))
    waiter = concurrent.futures.Future()
    h.core.add_frame_waiter(waiter)
    h.core.stop()
    assert h.core.status.state == "stopped" and h.run() == 0
    with pytest.raises(RuntimeError, match="stopped"):
        waiter.result()
    late = concurrent.futures.Future()
    h.core.add_settled_waiter(late)
    with pytest.raises(RuntimeError, match="not running"):
        late.result()


def test_hellos_resend_the_newest_frame_at_most_once_per_interval_and_coalesce():
    h = started(Harness(steps=2, resend_interval=1.0))
    sink_id, frames = h.add_sink(window=100)
    h.run()
    h.advance(0.3)  # the settled PNG: nothing else is on its way
    newest, count = frames[-1], len(frames)
    assert newest.settled
    h.core.resend(sink_id, (newest.epoch, newest.seq), h.now)
    h.flush()
    assert len(frames) == count, "a view that shows the newest frame gets nothing"
    h.core.resend(sink_id, None, h.now)
    h.flush()
    assert len(frames) == count + 1 and frames[-1] is newest, "a view without it gets it again at once"
    for _ in range(1000):
        h.core.resend(sink_id, (newest.epoch, newest.seq - 1), h.now)
    h.flush()
    assert len(frames) == count + 1 and h.core.next_deadline(h.now) == pytest.approx(h.now + 1.0)
    h.advance(0.99)
    assert len(frames) == count + 1
    h.advance(0.01)
    assert len(frames) == count + 2 and frames[-1] is newest, "1,000 hellos within the interval make one resend"
    h.advance(10)
    assert len(frames) == count + 2 and h.core.next_deadline(h.now) is None


def test_every_declared_state_is_reached():
    seen = set()
    h = Harness(FlakyToy(), steps=2)
    h.core.listeners.append(lambda status: seen.add(status.state))
    seen.add(h.core.status.state)  # stopped
    h.core.start()
    h.core.update(scene("green"))  # streaming
    h.run()  # idle
    h.core.pause()
    h.core.resume()
    h.core.update(scene("explode"))
    h.run()  # error
    assert seen == set(STATES), f"declared but never reported: {set(STATES) - seen}"


def test_annotations_and_the_trace_come_from_the_core():
    h = started(Harness(steps=2))
    h.core.annotate("refused seed", "brush 2 has no prompt")
    assert (h.core.status.notice, h.core.status.warning) == ("refused seed", "brush 2 has no prompt")
    h.core.annotate(None, None)
    assert h.core.status.notice is None and h.core.trace is None
    traced = Harness(steps=2, first=None)
    traced.stream = sdw.Stream(traced.backend, scene(), 2, trace_ticks=2)
    traced.core = SessionCore(traced.stream, epoch=7)
    started(traced).run()
    assert [s.index for s in traced.core.trace.steps] == [0, 1]


def test_a_tick_that_lands_after_stop_is_not_lost_on_restart():
    """stop() while the last tick of a picture is on the model thread drops that frame; start() must pick the
    stream's newest frame up again (an idle stream hands it back without a model call), or settled() would
    wait forever and the status say "streaming" (found by benchmarks/soak.py --session-minutes)."""
    h = Harness(steps=2)
    h.core.start()
    sink_id, frames = h.add_sink(window=100)  # a view that keeps up (no backpressure in the way)
    h.run()
    h.flush()
    h.core.update(scene("blue"))
    job = h.core.begin_tick()  # the first of the two ticks the edit needs
    h.core.tick_done(job, run_tick_job(h.stream, job), h.now)
    job = h.core.begin_tick()  # the last one is on the model thread...
    h.core.stop()  # ...when the session stops
    last = run_tick_job(h.stream, job)
    h.core.tick_done(job, last, h.now)
    assert last.converged and h.stream.idle
    h.core.start()
    calls = h.stream.model_calls
    waiter = concurrent.futures.Future()
    h.core.add_settled_waiter(waiter)
    h.run()
    h.flush()
    assert waiter.done() and waiter.result() is last, "settled() resolves with the frame made while stopping"
    assert h.stream.model_calls == calls, "picking the frame up again costs no model call"
    assert h.core.status.state == "idle" and h.core.status.converged
    assert frames[-1].frame is last, "the view gets the finished picture"


def test_fps_counts_the_ticks_of_the_last_second_while_streaming():
    """Ticks 0.25 s apart make 4 frames per second; a tick older than a second no longer counts; idle says 0."""
    h = started(Harness(steps=10))
    for expected in (0.0, 4.0, 4.0, 4.0, 4.0, 4.0):
        assert h.run(limit=1) == 1
        assert h.core.status.state == "streaming" and h.core.status.fps == expected
        h.now += 0.25
    h.now += 0.75  # the next tick comes a second after the last: only those two count
    assert h.run(limit=1) == 1 and h.core.status.fps == 1.0
    h.now += 1.0 / 3.0
    assert h.run(limit=1) == 1 and h.core.status.fps == 3.0
    h.run()
    assert h.core.status.state == "idle" and h.core.status.fps == 0.0


class AwayEngine(ToyBackend):
    """Fails like serve/client.py's engine-away error while `failures` is positive; `retry_after` is given."""

    def __init__(self, retry_after):
        super().__init__()
        self.failures, self.retry_after = 0, retry_after

    def encode_prompts(self, prompts):
        if self.failures > 0:
            self.failures -= 1
            error = RuntimeError("the engine is away (simulated)")
            error.retry_after = self.retry_after
            raise error
        return super().encode_prompts(prompts)


def away(retry_after):
    """A harness whose first picture is done and whose next edit met an engine that is away."""
    h = started(Harness(AwayEngine(retry_after), steps=2))
    h.run()
    h.backend.failures = 1
    h.core.update(scene("blue"))
    h.run()
    return h


@pytest.mark.parametrize("retry_after", [0, 2.5])
def test_an_error_that_says_when_to_retry_is_retried_then_without_an_update(retry_after):
    h = away(retry_after)
    assert h.core.status.state == "error" and h.run() == 0
    assert h.core.next_deadline(h.now) == pytest.approx(h.now + retry_after)
    if retry_after:
        h.advance(retry_after * 0.99)
        assert h.core.status.state == "error" and h.run() == 0, "not before its time"
    h.advance(retry_after * 0.01 if retry_after else 0)
    assert h.core.status.state == "streaming" and h.core.status.error, "the error text stays until a tick succeeds"
    h.run()
    assert h.core.status.state == "idle" and h.core.status.error is None


@pytest.mark.parametrize("retry_after", [None, -1, "2"])
def test_an_error_without_a_usable_retry_time_waits_for_the_next_update(retry_after):
    h = away(retry_after)
    assert h.core.status.state == "error" and h.core.next_deadline(h.now) is None
    h.advance(100)
    assert h.core.status.state == "error" and h.run() == 0
    h.core.update(scene())
    h.run()
    assert h.core.status.state == "idle"


def test_a_failing_status_listener_neither_stops_the_stream_nor_the_other_listeners():
    h = Harness(steps=2)
    seen = []

    def broken(status):
        raise RuntimeError("a view's bug")

    h.core.listeners.extend([broken, lambda status: seen.append(status.state)])
    h.core.start()
    h.run()
    assert h.core.status.state == "idle" and seen[0] == "streaming" and seen[-1] == "idle"


# --- rules found by mutation testing of runtime/core.py (benchmarks/results/mutation.md) ----------------------

@pytest.mark.parametrize("interrupt", ["stop", "reconfigure"])
def test_stop_and_reconfigure_cancel_a_pending_settle(interrupt):
    h = started(Harness(steps=2))
    h.add_sink(window=100)
    h.run()
    assert h.core.next_deadline(h.now) is not None, "a settle (the PNG) is due after the last tick"
    if interrupt == "stop":
        h.core.stop()
    else:
        h.core.reconfigure({"steps": 2}, concurrent.futures.Future())
    assert h.core.next_deadline(h.now) is None, "no settle is pending any more"
    h.advance(10)  # and the timers run without finding one
    assert h.core.next_deadline(h.now) is None


def test_every_single_step_asked_for_while_paused_is_one_tick():
    h = started(Harness(steps=4))
    h.core.pause()
    h.core.step()
    h.core.step()
    assert h.run() == 2 and h.core.frame.step == 2
    assert h.run() == 0, "then it waits, paused"


def test_a_hello_after_stop_or_from_an_unknown_view_sends_nothing():
    h = started(Harness(steps=2, resend_interval=1.0))
    sink_id, frames = h.add_sink(window=100)
    h.run()
    h.advance(0.3)
    count = len(frames)
    h.core.resend(sink_id + 99, None, h.now)  # a view that was never registered (or was removed)
    h.flush()
    assert len(frames) == count
    h.core.stop()
    h.core.resend(sink_id, None, h.now)
    h.flush()
    assert len(frames) == count, "a stopped session resends nothing"


def test_a_frame_waiter_on_a_stopped_session_fails_at_once_saying_what_to_do():
    h = Harness(steps=2)
    waiter = concurrent.futures.Future()
    h.core.add_frame_waiter(waiter)
    assert waiter.done()
    with pytest.raises(RuntimeError, match=r"^the session is not running: call start\(\) first$"):
        waiter.result()


def test_a_removed_sink_gets_no_more_frames_and_removing_it_twice_is_harmless():
    h = started(Harness(steps=2))
    kept, kept_frames = h.add_sink(window=100)
    gone, gone_frames = h.add_sink(window=100)
    h.core.remove_sink(gone)
    h.core.remove_sink(gone)
    h.run()
    h.advance(0.3)
    assert kept_frames and not gone_frames


def test_a_settled_waiter_on_a_failed_or_stopped_session_fails_at_once_with_the_reason():
    h = started(Harness(FlakyToy(), steps=2))
    h.core.update(scene("explode red"))
    h.run()
    assert h.core.status.error == "RuntimeError: CUDA out of memory (simulated)", "the error's type, then its text"
    waiter = concurrent.futures.Future()
    h.core.add_settled_waiter(waiter)
    assert waiter.done()
    with pytest.raises(RuntimeError, match=r"^the stream failed: RuntimeError: CUDA out of memory \(simulated\); "
                                           r"update the scene or the settings to try again$"):
        waiter.result()
    h.core.stop()
    late = concurrent.futures.Future()
    h.core.add_settled_waiter(late)
    with pytest.raises(RuntimeError, match=r"^the session is not running: call start\(\) first$"):
        late.result()


def test_a_tick_that_fails_does_not_put_its_scene_over_a_newer_one():
    h = started(Harness(FlakyToy(), steps=2))
    h.run()
    h.core.update(scene("explode red"))
    job = h.core.begin_tick()
    newer = scene("green")
    h.core.update(newer)  # the user edits while the failing tick runs
    h.core.tick_failed(job, RuntimeError("CUDA out of memory (simulated)"), h.now)
    h.run()
    assert h.core.frame.scene is newer and h.core.status.error is None


def test_a_restart_does_not_send_the_settled_picture_again():
    h = started(Harness(steps=2))
    sink_id, frames = h.add_sink(window=100)
    h.run()
    h.advance(0.3)
    assert frames[-1].settled
    pngs = sum(f.settled for f in frames)
    h.core.stop()
    h.core.start()
    h.run()  # the resync tick hands back the same, idle frame
    h.advance(10)
    assert sum(f.settled for f in frames) == pngs


def test_a_failure_without_a_retry_time_sets_no_timer():
    h = started(Harness(FlakyToy(), steps=2))
    h.core.update(scene("explode red"))
    h.run()
    assert h.core.status.state == "error" and h.core.next_deadline(h.now) is None


def test_a_silent_view_wakes_the_loop_only_while_frames_are_wanted():
    h = started(Harness(steps=4, ack_timeout=5.0, resend_interval=1.0))
    sink_id, frames = h.add_sink(window=1)
    assert h.run() == 1 and len(frames) == 1, "one frame fills the window; the view never acks"
    assert h.core.next_deadline(h.now) == pytest.approx(h.now + 5.0), "streaming: wake when the ack times out"
    h.core.resend(sink_id, None, h.now)  # a hello: the newest frame was just offered, so it waits its interval
    h.core.resend(sink_id, None, h.now)
    assert h.core.next_deadline(h.now) == pytest.approx(h.now + 1.0), "the earliest of the resend and the timeout"
    h.advance(5.0)
    h.run()
    h.advance(0.3)  # converged and settled
    assert h.core.idle and h.core.next_deadline(h.now) is None, "an idle stream sets no timer for a silent view"


def test_an_update_before_the_retry_time_drops_the_retry_timer():
    h = away(30.0)
    assert h.core.next_deadline(h.now) == pytest.approx(h.now + 30.0)
    h.core.update(scene("green"))
    assert h.core.next_deadline(h.now) is None, "the update is tried now; no retry is left to wake for"


def test_an_idle_stream_sets_no_timer_for_a_view_whose_window_is_full():
    h = started(Harness(steps=1, ack_timeout=5.0))
    sink_id, frames = h.add_sink(window=2)
    h.run()
    h.advance(0.3)  # the settled PNG fills the window: 2 frames, no ack
    assert h.core.idle and len(frames) == 2
    assert h.core.next_deadline(h.now) is None


def test_stop_tells_frame_waiters_exactly_what_to_do():
    h = started(Harness(steps=2))
    waiter = concurrent.futures.Future()
    h.core.add_frame_waiter(waiter)
    h.core.stop()
    with pytest.raises(RuntimeError, match=r"^the session stopped before the frame came: call start\(\) again$"):
        waiter.result()


# -- rules found by the mutation run of 3 December (second pass) ----------------------------------------------

def test_no_second_tick_starts_while_one_is_in_flight():
    h = started(Harness())
    job = h.core.begin_tick()
    assert not h.core.want_tick(h.now) and not h.core.idle, "the model thread is busy with this job"
    h.core.tick_done(job, run_tick_job(h.stream, job), h.now)
    assert h.core.want_tick(h.now)


def test_the_fps_is_rounded_to_one_decimal():
    h = started(Harness(steps=10))
    for _ in range(3):
        assert h.run(limit=1) == 1
        h.now += 0.3
    assert h.core.status.fps == 3.3, "2 intervals of 0.3 s: 3.33 frames per second, shown as 3.3"


def test_the_status_tick_is_the_newest_frames_index_and_frames_carry_their_bytes():
    h = started(Harness(steps=3))
    _, frames = h.add_sink()
    for _ in range(2):
        assert h.run(limit=1) == 1
        assert h.core.status.tick == h.core.frame.index
    assert frames and all(f.data == encode_image(f.frame.image, f.mime) for f in frames)


def test_a_refused_setting_shows_its_error_class_in_the_status():
    h = started(Harness(steps=2))
    h.run()
    h.core.reconfigure({"steps": 99}, concurrent.futures.Future())
    h.run()
    assert h.core.status.error == ("ValidationError: steps must be an integer between 1 and 50 (the lcm sampler's "
                                   "range), got 99")


def test_a_new_core_reports_stopped_with_the_streams_settings_and_nothing_run():
    h = Harness(steps=3)
    h.stream.reconfigure(guidance_scale=1.5)
    core = SessionCore(h.stream, epoch=4)
    assert core.status == SessionStatus(state="stopped", tick=0, fps=0.0, converged=False, epoch=4, steps=3,
                                        guidance_scale=1.5)
    assert type(core.status.fps) is float and core.status.converged is False


def test_settings_sent_before_start_apply_on_the_first_tick():
    h = Harness(steps=2)
    reply = concurrent.futures.Future()
    h.core.reconfigure({"steps": 3}, reply)
    started(h).run()
    assert reply.result() is None and h.stream.steps == 3 and h.core.status.steps == 3


def test_a_failing_status_listener_is_logged_by_name(caplog):
    h = Harness(steps=2)
    h.core.listeners.append(lambda status: 1 / 0)
    with caplog.at_level("ERROR", logger="semanticdraw_widgets.runtime.core"):
        started(h).run()
    assert [r.getMessage() for r in caplog.records][:1] == ["semanticdraw: a status listener failed"]
    assert caplog.records[0].exc_info[0] is ZeroDivisionError


def test_a_new_core_has_no_deadline_to_wake_for():
    h = Harness(steps=2)
    assert h.core.next_deadline(h.now) is None
    h.core.start()
    assert h.core.next_deadline(h.now) is None, "nothing is due before the first tick"
