"""Cross-client batching in plain Python (no Ray): jobs from several clients share one backend call."""

import threading

import numpy as np
import torch

import semanticdraw_widgets as sdw
from helpers import three_region_scene
from semanticdraw_widgets.engine.stream import Stream
from semanticdraw_widgets.serve import wire
from semanticdraw_widgets.serve.client import RemoteBackend
from semanticdraw_widgets.serve.service import EngineService, Job, Reply, merge_schedules


class GatheringTransport:
    """Holds model-call jobs until `width` clients have sent one, then runs them as ONE batch (as Serve's
    @serve.batch would within its window); deterministic, no timing."""

    def __init__(self, service, width):
        self.service, self.width = service, width
        self.cond = threading.Condition()
        self.pending: list[tuple[Job, list]] = []
        self.batches: list[int] = []

    def __call__(self, method, path, body, headers):
        routed = self.service.route(method, path, headers, body or b"")
        if isinstance(routed, Reply):
            return routed.status, routed.body
        slot: list = []
        with self.cond:
            self.pending.append((routed, slot))
            if len(self.pending) == self.width:
                jobs, self.pending = self.pending, []
                self.batches.append(len(jobs))
                for (_, out), reply in zip(jobs, self.service.run_batch([j for j, _ in jobs])):
                    out.append(reply)
                self.cond.notify_all()
            assert self.cond.wait_for(lambda: slot, timeout=60)
        return slot[0].status, slot[0].body




STUDENTS = [(("blue sky", "red bricks", "green grass", "white sand"), 1, 4),
            (("grey stone", "yellow sun", "brown wood", "orange fur"), 2, 3),
            (("pink", "purple waves", "black gravel", "white clouds"), 3, 4)]


def test_three_clients_share_each_model_call_and_get_their_local_frames():
    service = EngineService(sdw.load_backend("toy"), token="t")
    transport = GatheringTransport(service, width=3)
    remotes = [RemoteBackend("http://127.0.0.1:1", "t", transport=transport) for _ in STUDENTS]
    streams = [Stream(r, three_region_scene(p, seed), steps=steps) for r, (p, seed, steps) in zip(remotes, STUDENTS)]
    frames: dict[int, list] = {}

    def student(i):
        frames[i] = [np.asarray(streams[i].tick().image) for _ in range(3)]

    threads = [threading.Thread(target=student, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    local = sdw.load_backend("toy")
    for i, (prompts, seed, steps) in enumerate(STUDENTS):
        own = Stream(local, three_region_scene(prompts, seed), steps=steps)
        for tick in range(3):
            assert np.array_equal(frames[i][tick], np.asarray(own.tick().image)), (i, tick)
    stats = service.stats_json()
    assert stats["model_calls"] == 3  # 3 clients x 3 ticks in 3 calls (a 3-step stream is done after 3)
    assert stats["shared_calls"] == 3 and stats["max_clients_per_call"] == 3 and stats["clients"] == 3
    assert stats["rows"] == sum(r.model_rows for r in remotes)


def test_merged_schedules_give_every_row_its_own_schedule_values():
    toy = sdw.load_backend("toy")
    a, b = toy.make_schedule(2), toy.make_schedule(5)
    merged, offsets = merge_schedules([a, b])
    assert offsets == [0, 2] and len(merged) == 7
    assert torch.equal(merged.alphas[offsets[1] + 3], b.alphas[3])
    assert merged.extras.keys() == a.extras.keys()
    for key in a.extras:
        assert torch.equal(merged.extras[key][offsets[1]:], b.extras[key])


def test_different_latent_shapes_run_as_separate_calls_in_one_batch():
    service = EngineService(sdw.load_backend("toy"), token=None)
    jobs = [Job("decode", "a", torch.zeros(1, 4, 8, 8)), Job("decode", "b", torch.zeros(2, 4, 16, 8)),
            Job("decode", "c", torch.zeros(1, 4, 8, 8))]
    replies = service.run_batch(jobs)
    shapes = [tuple(wire.decode(r.body)[1]["images"].shape) for r in replies]
    assert shapes == [(1, 3, 32, 32), (2, 3, 64, 32), (1, 3, 32, 32)]
    assert service.stats.decode_calls == 2


def test_a_failing_job_fails_alone():
    service = EngineService(sdw.load_backend("toy"), token=None)
    good = Job("predict", "a", torch.zeros(1, 4, 8, 8), steps=4, step_index=torch.tensor([0]),
               cond=[{k: v[0] for k, v in service.backend.encode_prompts(["red"]).items()}])
    # a row that slipped past the checks (wrong width) breaks the merged call
    bad = Job("predict", "b", torch.zeros(1, 4, 8, 8), steps=4, step_index=torch.tensor([0]),
              cond=[{k: v[0][:1] for k, v in service.backend.encode_prompts(["blue"]).items()}])
    replies = service.run_batch([good, bad])
    assert replies[0].status == 200 and replies[1].status == 500
    assert service.stats.failed_calls == 1
