"""The remote backend against an in-process engine (no Ray, no sockets): bit-exact frames, handles, faults."""

import warnings

import numpy as np
import pytest
import torch

import semanticdraw_widgets as sdw
from semanticdraw_widgets.backends.base import Backend
from semanticdraw_widgets.engine.stream import Stream
from semanticdraw_widgets.serve import wire
from semanticdraw_widgets.serve.client import EngineError, EngineUnavailable, RemoteBackend
from semanticdraw_widgets.serve.service import EngineService, InProcessTransport, Reply


def _scene(seed=3, strength=1.0, sky="blue sky"):
    masks = np.zeros((3, 64, 64), bool)
    masks[0, :32], masks[1, 32:, :32], masks[2, 32:, 32:] = True, True, True
    return sdw.Scene(
        background=sdw.Background(prompt=sky),
        regions=[sdw.Region(prompt="red bricks", mask=masks[0], prompt_strength=strength),
                 sdw.Region(prompt="green grass", mask=masks[1]),
                 sdw.Region(prompt="yellow sun", mask=masks[2])],
        width=64, height=64, seed=seed)


@pytest.fixture
def engine():
    local = sdw.load_backend("toy")
    service = EngineService(sdw.load_backend("toy"), token="s3cret")
    transport = InProcessTransport(service)
    return local, service, transport


def _remote(transport, token="s3cret"):
    return RemoteBackend("http://127.0.0.1:8765", token, transport=transport)


def test_remote_backend_satisfies_the_protocol(engine):
    _, _, transport = engine
    remote = _remote(transport)
    assert isinstance(remote, Backend)
    assert (remote.name, remote.latent_channels, remote.scale_factor) == ("toy", 4, 4)


def test_generate_remote_equals_local_bit_for_bit(engine):
    local, _, transport = engine
    remote = _remote(transport)
    scene = _scene(strength=0.7)
    a = np.asarray(sdw.generate(local, scene, steps=4))
    b = np.asarray(sdw.generate(remote, scene, steps=4))
    assert np.array_equal(a, b)


def test_stream_frames_remote_equal_local_and_send_handles_not_embeddings(engine):
    local, service, transport = engine
    remote = _remote(transport)
    scene = _scene()
    ours, theirs = Stream(local, scene, steps=4), Stream(remote, scene, steps=4)
    for _ in range(6):
        a, b = ours.tick(), theirs.tick()
        assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
        assert torch.equal(a.latent, b.latent)
    # the blended rows went up once; later ticks only name them
    uploads = transport.requests
    theirs.update(_scene(seed=4))
    theirs.tick()
    assert transport.requests - uploads == 2  # one predict, one decode: no encode, no upload
    assert service.stats.model_calls == remote.model_calls


def test_a_restarted_engine_gets_the_rows_again(engine):
    _, service, transport = engine
    remote = _remote(transport)
    stream = Stream(remote, _scene(), steps=4)
    stream.tick()
    transport.service = EngineService(sdw.load_backend("toy"), token="s3cret")  # empty cache, as after a restart
    frame = stream.tick()
    assert frame.step == 2


def test_wrong_or_missing_token_is_refused(engine):
    _, _, transport = engine
    with pytest.raises(EngineError, match="refused this client.*SEMANTICDRAW_TOKEN"):
        _remote(transport, token="wrong")
    with pytest.raises(EngineError, match="401"):
        _remote(transport, token="")


def test_token_from_the_environment(engine, monkeypatch):
    _, _, transport = engine
    monkeypatch.setenv("SEMANTICDRAW_TOKEN", "s3cret")
    assert _remote(transport, token=None).name == "toy"


def test_healthz_needs_no_token(engine):
    _, service, _ = engine
    reply = service.route("GET", "/healthz", {}, b"")
    assert reply.status == 200 and b'"ok": true' in reply.body


def test_engine_down_names_the_url_and_backs_off_boundedly(engine):
    _, _, transport = engine
    remote = _remote(transport)
    transport.down = True
    waits = []
    for _ in range(8):
        with pytest.raises(EngineUnavailable, match=r"http://127.0.0.1:8765.*semanticdraw serve") as caught:
            remote.stats()
        waits.append(caught.value.retry_after)
    assert waits[:3] == [0.5, 1.0, 2.0] and max(waits) == 10.0
    transport.down = False
    remote.stats()
    transport.down = True
    with pytest.raises(EngineUnavailable) as caught:
        remote.stats()
    assert caught.value.retry_after == 0.5  # a success resets the backoff


def test_toy_warnings_come_back_to_the_client(engine):
    _, _, transport = engine
    remote = _remote(transport)
    with pytest.warns(UserWarning, match="ignores 'sofa'"):
        remote.encode_prompts(["a red sofa"])
    assert remote.unknown_words("a red sofa") == ["sofa"]


def _predict_body(service, x, steps, index, prompts):
    cond = service.backend.encode_prompts(prompts)
    handles = [wire.row_handle({k: v[i] for k, v in cond.items()}) for i in range(len(prompts))]
    for i, h in enumerate(handles):
        service.rows.put(h, {k: v[i] for k, v in cond.items()})
    return wire.encode({"steps": steps, "cond": handles}, {"x": x, "step_index": index})


@pytest.mark.parametrize("mutate, status, message", [
    (lambda x, i: (x[:, :3], i), 400, "needs 4 channels"),
    (lambda x, i: (x, i + 10), 400, "step_index values"),
    (lambda x, i: (x, i.int()), 400, "int64"),
    (lambda x, i: (torch.zeros(1, 4, 300, 8), i[:1]), 400, "sides of 1 to 256"),
])
def test_bad_predict_requests_get_a_4xx_and_never_reach_a_batch(engine, mutate, status, message):
    _, service, _ = engine
    x, index = mutate(torch.randn(2, 4, 8, 8), torch.tensor([0, 1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        body = _predict_body(service, x, 4, index, ["red", "blue"][: x.shape[0]])
    reply = service.route("POST", "/predict", {"Authorization": "Bearer s3cret"}, body)
    assert isinstance(reply, Reply) and reply.status == status and message.encode() in reply.body
    assert service.stats.model_calls == 0


def test_oversized_and_garbage_bodies_get_413_and_400(engine):
    _, service, _ = engine
    headers = {"Authorization": "Bearer s3cret"}
    small = EngineService(service.backend, token="s3cret",
                          limits=type(service.limits)(max_request_bytes=1000))
    assert small.route("POST", "/predict", headers, wire.encode({}, {"x": torch.zeros(1000)})).status == 413
    assert service.route("POST", "/predict", headers, b"\x80\x03}q\x00.").status == 400  # a pickle
    assert service.route("POST", "/nope", headers, b"").status == 404


def test_unknown_rows_get_409_with_the_missing_handles(engine):
    _, service, _ = engine
    body = wire.encode({"steps": 4, "cond": ["ab" * 16]}, {"x": torch.zeros(1, 4, 8, 8),
                                                             "step_index": torch.tensor([0])})
    reply = service.route("POST", "/predict", {"Authorization": "Bearer s3cret"}, body)
    assert reply.status == 409 and b"ab" * 16 in reply.body


def test_an_upload_must_match_its_handle_and_the_model(engine):
    _, service, _ = engine
    headers = {"Authorization": "Bearer s3cret"}
    row = {k: v[0] for k, v in service.backend.encode_prompts(["red"]).items()}
    forged = {f"{'cd' * 16}/{k}": v for k, v in row.items()}
    assert service.route("POST", "/upload", headers, wire.encode({}, forged)).status == 400
    alien = {f"{wire.row_handle({'prompt_embeds': torch.zeros(77, 8)})}/prompt_embeds": torch.zeros(77, 8)}
    reply = service.route("POST", "/upload", headers, wire.encode({}, alien))
    assert reply.status == 400 and b"another model" in reply.body


def _tick(core, stream, now):
    from semanticdraw_widgets.runtime.core import run_tick_job

    job = core.begin_tick()
    try:
        frame = run_tick_job(stream, job)
    except Exception as error:
        core.tick_failed(job, error, now)
    else:
        core.tick_done(job, frame, now)


def _started_core(transport):
    """A running SessionCore over a stream of the remote engine (ticked by hand with _tick)."""
    from semanticdraw_widgets.runtime.core import SessionCore

    stream = Stream(_remote(transport), _scene(), steps=4)
    core = SessionCore(stream, epoch=1)
    core.start()
    return core, stream


def test_a_session_core_keeps_the_picture_while_the_engine_is_away_and_recovers_by_itself(engine):
    _, _, transport = engine
    core, stream = _started_core(transport)
    now = 0.0
    _tick(core, stream, now)
    shown = core.frame
    transport.down = True
    core.update(_scene(seed=9, sky="grey stone"))  # a new prompt: fails before it applies, and must survive
    _tick(core, stream, now)
    assert core.status.state == "error" and "http://127.0.0.1:8765" in core.status.error
    assert core.frame is shown and not core.want_tick(now)
    retries = []
    for _ in range(6):  # bounded backoff: 0.5, 1, 2, 4, 8, 10 s
        deadline = core.next_deadline(now)
        retries.append(deadline - now)
        now = deadline
        core.timers_due(now)
        assert core.want_tick(now)
        _tick(core, stream, now)
        assert core.status.state == "error" and core.frame is shown
    assert retries == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0]
    transport.down = False
    now = core.next_deadline(now)
    core.timers_due(now)
    _tick(core, stream, now)
    assert core.status.state == "streaming" and core.status.error is None
    assert core.frame.scene.seed == 9 and core.frame.scene.background.prompt == "grey stone"


def test_a_refused_request_is_not_retried_by_itself(engine):
    _, service, transport = engine
    core, stream = _started_core(transport)
    service.token = "rotated-by-the-teacher"
    _tick(core, stream, 0.0)
    assert core.status.state == "error" and "401" in core.status.error
    assert core.next_deadline(0.0) is None  # waits for the next update, as any other error


def test_load_backend_dispatches_urls_and_refuses_local_options(monkeypatch):
    from semanticdraw_widgets.serve import client

    seen = {}
    monkeypatch.setattr(client, "RemoteBackend", lambda url, token: seen.setdefault("args", (url, token)))
    sdw.load_backend("http://127.0.0.1:8765", token="abc")
    assert seen["args"] == ("http://127.0.0.1:8765", "abc")
    monkeypatch.setattr(client, "RemoteBackend", lambda url, token: (_ for _ in ()).throw(client.EngineError("HTTP 401")))
    with pytest.raises(sdw.ModelLoadError, match="401"):  # the CLI's one-line refusal, not an internal error
        sdw.load_backend("http://127.0.0.1:8765", token="bad")
    with pytest.raises(ValueError, match="lora cannot be set by a client"):
        sdw.load_backend("http://127.0.0.1:8765", lora="lcm")
    with pytest.raises(ValueError, match="token= is for a shared engine"):
        sdw.load_backend("toy", token="abc")


def test_a_real_http_transport_to_nothing_names_the_url():
    from semanticdraw_widgets.serve.app import free_port

    port = free_port()  # bound and released: nothing listens there now
    with pytest.raises(EngineUnavailable, match=f"http://127.0.0.1:{port} did not answer"):
        sdw.load_backend(f"http://127.0.0.1:{port}")


def test_cli_serve_parses_and_refuses_a_public_host_without_a_token(capsys):
    from semanticdraw_widgets.cli import build_parser
    from semanticdraw_widgets.serve.app import serve_forever

    args = build_parser().parse_args(["serve", "--model", "toy", "--port", "9000", "--replicas", "2"])
    assert (args.model, args.host, args.port, args.replicas, args.token_file) == ("toy", "127.0.0.1", 9000, 2, None)
    with pytest.raises(ValueError, match="needs --token-file"):
        serve_forever("toy", host="0.0.0.0", port=9000, token_file=None, replicas=1, address=None)


def test_a_short_token_file_is_refused(tmp_path):
    from semanticdraw_widgets.serve.app import read_token_file

    (tmp_path / "t").write_text("short\n")
    with pytest.raises(ValueError, match="at least 16"):
        read_token_file(str(tmp_path / "t"))
    (tmp_path / "t").write_text("a-long-enough-token-1234\n")
    assert read_token_file(str(tmp_path / "t")) == "a-long-enough-token-1234"


def test_only_the_engines_schedules_are_accepted(engine):
    from dataclasses import replace

    _, _, transport = engine
    remote = _remote(transport)
    schedule = remote.make_schedule(4)
    assert remote.make_schedule(4) is schedule  # one round trip per step count
    x, index = torch.zeros(1, 4, 8, 8), torch.tensor([0])
    cond = remote.encode_prompts(["red"])
    remote.predict_x0(x, index, replace(schedule), cond)  # an equal copy is fine
    with pytest.raises(ValueError, match="did not make"):
        remote.predict_x0(x, index, replace(schedule, alphas=schedule.alphas * 0.5), cond)


def test_many_prompts_are_encoded_in_chunks_within_the_engines_limit(engine):
    _, service, transport = engine
    remote = _remote(transport)
    prompts = [f"{c} bricks" for c in ("red", "blue", "green", "white", "black")] * 30  # 150 > 64
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cond = remote.encode_prompts(prompts)
        local = service.backend.encode_prompts(prompts)
    assert all(torch.equal(cond[k], local[k]) for k in local)


def test_traces_and_compare_methods_work_unchanged_against_the_engine(engine):
    local, _, transport = engine
    remote = _remote(transport)
    scene = _scene()
    _, theirs = sdw.generate(remote, scene, steps=2, trace=True)
    _, ours = sdw.generate(local, scene, steps=2, trace=True)
    last = theirs.steps[-1].x0
    assert np.array_equal(np.asarray(theirs.preview(last)), np.asarray(ours.preview(ours.steps[-1].x0)))
    table = sdw.compare_methods(remote, scene, steps=2).table
    assert [row["method"] for row in table] == [row["method"] for row in sdw.compare_methods(local, scene, steps=2).table]


def test_cli_serve_autoscale_passes_through_to_ray_serves_autoscaling_config(monkeypatch):
    from semanticdraw_widgets.cli import build_parser
    from semanticdraw_widgets.serve import app, command

    assert command.parse_autoscale("1:4") == {"min_replicas": 1, "max_replicas": 4}
    assert command.parse_autoscale(None) is None
    for bad in ("4", "4:1", "a:b", "-1:2", "0:0"):
        with pytest.raises(ValueError, match=r"--autoscale .*MIN:MAX"):
            command.parse_autoscale(bad)
    seen = {}
    monkeypatch.setattr(app, "serve_forever", lambda spec, **kwargs: seen.update(kwargs))
    monkeypatch.setitem(__import__("sys").modules, "ray", __import__("types").ModuleType("ray"))  # no Ray needed
    args = build_parser().parse_args(["serve", "--model", "toy", "--autoscale", "0:3"])
    assert command.run_serve(args) == 0
    assert seen["autoscaling"] == {"min_replicas": 0, "max_replicas": 3}
