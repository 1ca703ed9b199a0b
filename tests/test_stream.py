"""Stream batch: one model call per tick, convergence to generate(), idleness; updates from threads via a Session."""

import asyncio
import random
import threading

import numpy as np
import pytest
import torch

import semanticdraw_widgets as sdw
from helpers import rect_mask
from semanticdraw_widgets.backends.toy import ToyBackend

SIZE = 128


def scene(seed=0, prompts=("red", "green bricks", "blue"), size=SIZE):
    q = size // 4
    boxes = [(0, 0, 2 * q, 2 * q), (2 * q, 0, size, 2 * q), (q, 2 * q, 3 * q, size)]
    return sdw.Scene(width=size, height=size, seed=seed, background=sdw.Background(prompt="white sky"),
                     regions=[sdw.Region(prompt=p, mask=rect_mask(size, size, *b)) for p, b in zip(prompts, boxes)])


def pixels(image):
    return np.asarray(image, dtype=np.int16)


def run_until_converged(stream, limit=50):
    for _ in range(limit):
        frame = stream.tick()
        if frame.converged:
            return frame
    raise AssertionError("stream did not converge")


@pytest.mark.parametrize("steps", [1, 2, 4, 5])
def test_a_static_scene_converges_to_the_one_shot_picture(toy, steps):
    stream = sdw.Stream(toy, scene(), steps=steps)
    frames = [stream.tick() for _ in range(steps)]
    assert [f.converged for f in frames] == [False] * (steps - 1) + [True]
    assert [f.step for f in frames] == list(range(1, steps + 1)), "previews while the ring fills"
    assert np.array_equal(pixels(frames[-1].image), pixels(sdw.generate(toy, scene(), steps=steps)))


def test_idle_after_convergence_makes_no_model_calls():
    backend = ToyBackend()
    stream = sdw.Stream(backend, scene(), steps=4)
    run_until_converged(stream)
    calls = backend.model_calls
    assert stream.idle
    frames = [stream.tick() for _ in range(10)]
    assert backend.model_calls == calls
    assert all(f is frames[0] for f in frames)


def test_one_batched_call_per_tick_covers_every_slot_and_layer():
    backend = ToyBackend()
    stream = sdw.Stream(backend, scene(), steps=4, guidance_scale=2.0)
    layers = 4
    for tick in range(1, 5):
        calls, rows = backend.model_calls, backend.model_rows
        stream.tick()
        assert backend.model_calls == calls + 1
        assert backend.model_rows - rows == tick * layers * 2  # slots filled so far x layers x (cond, uncond)


def test_an_update_is_fully_visible_within_T_ticks(toy):
    stream = sdw.Stream(toy, scene(), steps=4)
    run_until_converged(stream)
    edited = scene(prompts=("yellow", "green bricks", "blue"))
    stream.update(edited)
    assert not stream.idle
    frames = [stream.tick() for _ in range(4)]
    assert not any(f.converged for f in frames[:3]) and frames[3].converged
    assert frames[3].scene == edited
    assert np.array_equal(pixels(frames[3].image), pixels(sdw.generate(toy, edited, steps=4)))
    assert stream.idle


def test_updates_take_effect_at_the_next_tick_and_latest_wins(toy):
    stream = sdw.Stream(toy, scene(), steps=2)
    stream.update(scene(seed=1))
    stream.update(scene(seed=2))
    assert stream.scene.seed == 2
    frame = run_until_converged(stream)
    assert frame.scene.seed == 2
    assert np.array_equal(pixels(frame.image), pixels(sdw.generate(toy, scene(seed=2), steps=2)))


def test_only_changed_prompts_are_encoded_again(toy):
    stream = sdw.Stream(toy, scene(), steps=2)
    stream.tick()
    encoded = stream.cache.encoded_texts
    stream.update(scene(prompts=("yellow", "green bricks", "blue")))
    stream.tick()
    assert stream.cache.encoded_texts == encoded + 1
    stream.update(scene(prompts=("red", "green bricks", "blue")))  # back to a text seen before
    stream.tick()
    assert stream.cache.encoded_texts == encoded + 1


def test_an_equal_scene_does_not_restart_the_stream(toy):
    stream = sdw.Stream(toy, scene(), steps=2)
    run_until_converged(stream)
    stream.update(scene())  # a new object with equal content
    assert stream.tick().converged and stream.idle


def test_streams_are_deterministic(toy):
    a, b = sdw.Stream(toy, scene(), steps=3), sdw.Stream(toy, scene(), steps=3)
    for _ in range(5):
        assert np.array_equal(pixels(a.tick().image), pixels(b.tick().image))


def test_a_canvas_size_change_restarts_the_ring(toy):
    stream = sdw.Stream(toy, scene(), steps=3)
    run_until_converged(stream)
    stream.update(scene(size=64))
    frame = run_until_converged(stream)
    assert frame.image.size == (64, 64)


def test_a_thousand_updates_from_two_threads_while_a_session_streams(toy):
    """The Stream is single-threaded; the Session hands updates from any thread to it between ticks."""
    words = ["red", "blue", "yellow", "green", "purple bricks", "white dots", "orange stripes"]
    errors = []
    session = sdw.Session(toy, scene(), steps=3)

    def hammer(seed):
        rng = random.Random(seed)
        try:
            for _ in range(500):
                session.update(scene(seed=rng.randrange(3), prompts=tuple(rng.choice(words) for _ in range(3))))
        except Exception as error:  # collected and re-raised in the main thread
            errors.append(error)

    with session:
        threads = [threading.Thread(target=hammer, args=(s,)) for s in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        frame = asyncio.run(session.settled(timeout=120))
    assert not errors
    final = session.stream.scene
    assert frame.scene == final
    assert np.array_equal(pixels(frame.image), pixels(sdw.generate(toy, final, steps=3)))


def test_trace_keeps_the_last_ticks(toy):
    stream = sdw.Stream(toy, scene(), steps=3, trace_ticks=2)
    for _ in range(3):
        stream.tick()
    assert len(stream.traces) == 2
    last = stream.traces[-1]
    assert [s.index for s in last] == [0, 1, 2] and last[0].bootstrap and not last[1].bootstrap


def test_last_trace_is_the_history_of_the_shown_frame(toy):
    stream = sdw.Stream(toy, scene(), steps=3, trace_ticks=3)
    stream.tick()
    assert stream.last_trace() is None  # the ring has not produced a finished frame yet
    frame = run_until_converged(stream)
    trace = stream.last_trace()
    _, reference = sdw.generate(toy, scene(), steps=3, trace=True)
    assert [s.index for s in trace.steps] == [0, 1, 2]
    for ours, theirs in zip(trace.steps, reference.steps):
        assert torch.allclose(ours.x_t, theirs.x_t, atol=1e-5)
    assert torch.allclose(trace.steps[-1].x0, frame.latent, atol=1e-6)
    assert sdw.Stream(toy, scene(), steps=3).last_trace() is None  # tracing off


def test_tiny_sd_stream_converges_close_to_generate(tiny_sd, small_scene):
    # Batching slots changes the order of float operations inside the UNet, so the stream's picture
    # equals the one-shot picture up to rounding (here within a few 8-bit levels).
    stream = sdw.Stream(tiny_sd, small_scene, steps=4)
    frame = run_until_converged(stream)
    reference = pixels(sdw.generate(tiny_sd, small_scene, steps=4))
    assert np.abs(pixels(frame.image) - reference).max() <= 3


def test_bad_arguments(toy):
    with pytest.raises(TypeError, match="Stream needs a semanticdraw_widgets.Scene"):
        sdw.Stream(toy, "scene")
    stream = sdw.Stream(toy, scene(), steps=2)
    with pytest.raises(TypeError, match="update\\(\\) needs a semanticdraw_widgets.Scene"):
        stream.update(None)
