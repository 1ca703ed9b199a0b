"""A real local Ray Serve engine with the toy model, on 127.0.0.1 only (no mocks of Ray).

Slow (Ray starts in 25-60 s on a 2-core machine), so outside the default run:
    pytest -m slow tests/test_serve_ray.py
One module-scoped engine serves every test here.
"""

import json
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest

import semanticdraw_widgets as sdw
from helpers import three_region_scene

pytest.importorskip("ray.serve")
pytestmark = pytest.mark.slow

TOKEN = "test-token-0123456789abcdef"


@pytest.fixture(scope="module")
def engine():
    from semanticdraw_widgets.serve.app import free_port, start_engine, stop_engine

    port = free_port()
    # a wide batch window and a batch of exactly three: three students' ticks meet in one call
    options = dict(host="127.0.0.1", port=port, token=TOKEN, num_cpus=2, batch_wait_s=0.5, max_batch_size=3)
    url = start_engine("toy", **options)
    _wait_healthy(url)
    try:
        yield url, options
    finally:
        stop_engine()


def _wait_healthy(url, tries=600):
    for _ in range(tries):  # bounded: each try blocks at most 2 s on the socket
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as reply:
                if json.loads(reply.read())["ok"]:
                    return
        except (OSError, ValueError):
            threading.Event().wait(0.2)
    raise AssertionError(f"the engine at {url} never became healthy")




STUDENTS = [(("blue sky", "red bricks", "green grass", "white sand"), 1),
            (("grey stone", "yellow sun", "brown wood", "orange fur"), 2),
            (("pink", "purple waves", "black gravel", "white clouds"), 3)]


def test_three_students_at_once_get_their_local_frames_in_shared_calls(engine):
    url, _ = engine
    remotes = [sdw.load_backend(url, token=TOKEN) for _ in STUDENTS]
    streams = [sdw.Stream(r, three_region_scene(p, seed), steps=4) for r, (p, seed) in zip(remotes, STUDENTS)]
    barrier = threading.Barrier(3)
    frames, errors = {}, []

    def student(i):
        try:
            frames[i] = []
            for _ in range(4):
                barrier.wait(timeout=120)  # tick together, as a class drawing at once does
                frames[i].append(np.asarray(streams[i].tick().image))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=student, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    local = sdw.load_backend("toy")
    for i, (prompts, seed) in enumerate(STUDENTS):
        own = sdw.Stream(local, three_region_scene(prompts, seed), steps=4)
        for tick in range(4):
            assert np.array_equal(frames[i][tick], np.asarray(own.tick().image)), (i, tick)
    stats = remotes[0].stats()
    assert stats["clients"] >= 3 and stats["max_clients_per_call"] >= 2 and stats["shared_calls"] >= 1, stats
    assert stats["rows_per_call"] > 4  # one student's tick alone is at most 4 slots x 4 layers, often fewer


def test_the_token_is_required_except_for_healthz(engine):
    url, _ = engine
    with urllib.request.urlopen(url + "/healthz", timeout=30) as reply:
        assert reply.status == 200
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(url + "/stats", headers=headers), timeout=30)
        assert refused.value.code == 401
    with pytest.raises(sdw.ModelLoadError, match="401.*SEMANTICDRAW_TOKEN"):
        sdw.load_backend(url, token="wrong-token-0123456789")


def _predict_headers_only(url, content_length):
    """A /predict request whose headers announce ``content_length`` bytes and whose body is never sent."""
    import http.client
    from urllib.parse import urlparse

    parsed = urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    conn.putrequest("POST", "/predict")
    conn.putheader("Authorization", f"Bearer {TOKEN}")
    conn.putheader("Content-Length", str(content_length))
    conn.endheaders()
    return conn


def test_an_oversized_request_gets_413_before_its_body_is_read(engine):
    url, _ = engine
    conn = _predict_headers_only(url, 65 * 2**20)  # the body never comes: the answer must not wait for it
    reply = conn.getresponse()
    assert reply.status == 413 and b"over the limit" in reply.read()
    conn.close()


def test_a_running_session_survives_the_engine_restarting(engine):
    from ray import serve

    from semanticdraw_widgets.serve.app import start_engine

    url, options = engine
    session = sdw.Session(sdw.load_backend(url, token=TOKEN), three_region_scene(STUDENTS[0][0], 1), steps=4)
    failed, recovered, states = threading.Event(), threading.Event(), []

    def listen(status):
        states.append((status.state, status.error))
        if status.state == "error":
            failed.set()
        elif failed.is_set() and status.state == "idle" and status.error is None:
            recovered.set()

    session.add_status_listener(listen)
    with session:
        import asyncio

        first = asyncio.run(session.settled(timeout=120))
        serve.shutdown()  # the engine goes away: connections are refused
        session.update(three_region_scene(STUDENTS[1][0], 2))
        assert failed.wait(120), states
        assert session.frame is first and url in session.status.error
        start_engine("toy", **options)  # back (same Ray instance, a fresh replica with an empty cache)
        _wait_healthy(url)
        assert recovered.wait(180), states[-5:]  # by itself: no update, no kernel restart
        assert session.frame.scene.background.prompt == "grey stone"


def test_a_client_that_stalls_mid_request_does_not_stall_the_others(engine):
    url, _ = engine
    stalled = _predict_headers_only(url, 100000)
    stalled.send(b"\0" * 1000)  # and then nothing: a kernel that froze or vanished mid-upload
    try:
        remote = sdw.load_backend(url, token=TOKEN)
        scene = three_region_scene(STUDENTS[0][0], 5)
        image = sdw.generate(remote, scene, steps=4)  # every call of it still answers
        assert np.array_equal(np.asarray(image), np.asarray(sdw.generate(sdw.load_backend("toy"), scene, steps=4)))
    finally:
        stalled.close()
