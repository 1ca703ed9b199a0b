"""A real IPython kernel (jupyter_client): a Session streams on the toy model while cells send scene
updates; frames keep arriving, updates show up, and the kernel keeps answering execute_requests."""

import time

import pytest

jupyter_client = pytest.importorskip("jupyter_client")
pytest.importorskip("ipykernel")

SETUP = """
import os, time, threading
os.environ["HF_HUB_OFFLINE"] = "1"
import numpy as np
import semanticdraw_widgets as sdw
mask = np.zeros((128, 128), bool); mask[:64, :64] = True
def make_scene(prompt):
    return sdw.Scene(width=128, height=128, seed=0, background=sdw.Background(prompt="white"),
                     regions=[sdw.Region(prompt=prompt, mask=mask)])
received = []
session = sdw.Session(sdw.load_backend("toy"), make_scene("red"), steps=4, max_in_flight=1000)
session.add_sink(received.append)
session.start()
print("started")
"""


class Kernel:
    def __init__(self):
        from jupyter_client.manager import start_new_kernel

        self.manager, self.client = start_new_kernel(kernel_name="python3", startup_timeout=120)

    def run(self, code, timeout=60.0):
        """Execute `code`; return (stdout, seconds until the reply)."""
        started = time.monotonic()
        msg_id = self.client.execute(code, store_history=False)
        output, errors = [], []
        while True:
            msg = self.client.get_iopub_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
                output.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                errors.append("\n".join(msg["content"]["traceback"]))
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        if errors:
            raise AssertionError("kernel error:\n" + "\n".join(errors))
        return "".join(output).strip(), time.monotonic() - started

    def close(self):
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kernel():
    k = Kernel()
    yield k
    k.close()


def test_session_streams_in_a_kernel_and_follows_updates(kernel):
    out, _ = kernel.run(SETUP, timeout=180)
    assert out == "started"
    kernel.run("deadline = time.monotonic() + 30\n"
               "while session.status.state != 'idle' and time.monotonic() < deadline: time.sleep(0.05)")
    assert kernel.run("print(session.status.state)")[0] == "idle"

    prompts = ["blue", "yellow", "green bricks", "purple", "orange stripes"]
    reply_times, frame_counts = [], []
    for prompt in prompts:
        out, seconds = kernel.run(f"session.update(make_scene({prompt!r})); print(len(received))")
        reply_times.append(seconds)
        frame_counts.append(int(out))
        time.sleep(0.2)
    # the kernel answers while the session streams in its own thread
    assert max(reply_times) < 5, reply_times
    assert frame_counts == sorted(frame_counts) and frame_counts[-1] > frame_counts[0]

    kernel.run("deadline = time.monotonic() + 30\n"
               "while not (session.frame.converged and session.frame.scene == make_scene('orange stripes')\n"
               "           and received[-1].settled) "
               "and time.monotonic() < deadline: time.sleep(0.05)")
    out, _ = kernel.run("expected = np.asarray(sdw.generate(session.stream.backend, make_scene('orange stripes'), steps=4))\n"
                        "print(session.frame.scene.regions[0].prompt, np.array_equal(np.asarray(session.frame.image), expected),"
                        " received[-1].settled, session.status.error)")
    assert out == "orange stripes True True None"


def test_async_next_frame_in_a_cell(kernel):
    out, _ = kernel.run("session.update(make_scene('red dots'))\n"
                        "frame = await session.next_frame(timeout=20)\n"
                        "print(type(frame).__name__)")
    assert out == "Frame"
    kernel.run("session.stop()")
