"""The live demo end to end, headless, on a short generated clip with the default model."""
import json
import socket
import threading

import cv2
import numpy as np
import pytest

from movnect import cli
from movnect.demo import demo, parse_host_port
from movnect.estimator import DEFAULT_MODEL_FILE
from movnect.sample_clip import write_sample_clip

pytestmark = pytest.mark.skipif(not DEFAULT_MODEL_FILE.is_file(), reason="no embedded default model")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    meta = write_sample_clip(path, seconds_per_action=0.8, fps=25, empty_seconds=0.6)
    return path, meta


class OscCollector:
    """A bare UDP server collecting OSC bundles (parsed with python-osc)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.packets = []
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop:
            try:
                data, _ = self.sock.recvfrom(65536)
            except OSError:
                continue
            self.packets.append(data)

    def close(self):
        self._stop = True
        self.thread.join(2)
        self.sock.close()


def test_demo_writes_every_output(clip, tmp_path):
    from pythonosc.osc_bundle import OscBundle
    from pythonosc.osc_message import OscMessage

    from postprocess.vmc import UNITY_BONES

    path, meta = clip
    server = OscCollector()
    try:
        summary = demo(str(path), "default", out_dir=str(tmp_path), vmc=f"127.0.0.1:{server.port}")
    finally:
        import time

        time.sleep(0.3)
        server.close()
    n = meta["frames"]
    assert summary["frames"] == n and summary["outputs"]["released_frames"] == n
    # overlay video: playable, one frame per input frame, frame and 3D panel side by side
    cap = cv2.VideoCapture(str(tmp_path / "overlay.mp4"))
    count, first = 0, None
    while True:
        ok, img = cap.read()
        if not ok:
            break
        first = img if first is None else first
        count += 1
    assert count == n and first.shape == (480, 640 + 480, 3)
    # BVH: parses with an independent reader, one motion frame per input frame
    import pybvh

    parsed = pybvh.read_bvh_file(tmp_path / "motion.bvh", world_up="+y")
    assert parsed.frame_count == n
    # JSON lines: valid, in order, tracked while the person is in view, untracked at the end
    lines = [json.loads(x) for x in (tmp_path / "poses.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in lines] == list(range(n))
    person = [r for r, truth in zip(lines, meta["joints3d_camera_mm"]) if truth is not None]
    empty = [r for r, truth in zip(lines, meta["joints3d_camera_mm"]) if truth is None]
    assert np.mean([r["tracked"] for r in person]) > 0.8
    assert np.mean([r["tracked"] for r in empty[5:]]) < 0.5  # a few frames of filter lag allowed
    for r in lines:
        q = np.array(r["local_quaternions_wxyz"])
        np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-3)
    # VMC: every expected address, valid bone names, unit quaternions
    addresses, bones = set(), set()
    for data in server.packets:
        assert OscBundle.dgram_is_bundle(data)
        for item in OscBundle(data):
            if isinstance(item, OscMessage):
                addresses.add(item.address)
                if item.address == "/VMC/Ext/Bone/Pos":
                    bones.add(item.params[0])
                    np.testing.assert_allclose(np.linalg.norm(item.params[4:8]), 1.0, atol=1e-3)
    assert {"/VMC/Ext/OK", "/VMC/Ext/T", "/VMC/Ext/Root/Pos", "/VMC/Ext/Bone/Pos"} <= addresses
    assert bones and bones <= set(UNITY_BONES)
    assert len(server.packets) > n // 2


def test_global_position_follows_the_person(clip, tmp_path):
    """The fitted root depth is in the right range: a real check of the 2D+3D fit on the clip."""
    path, meta = clip
    demo(str(path), "default", jsonl=str(tmp_path / "p.jsonl"), fov_deg=60.0)
    lines = [json.loads(x) for x in (tmp_path / "p.jsonl").read_text().splitlines()]
    errs = []
    for r, truth in zip(lines, meta["joints3d_camera_mm"]):
        if truth is not None and r["tracked"]:
            errs.append(abs(r["root_mm"][2] - truth[0][2]) / truth[0][2])
    assert len(errs) > 10 and np.median(errs) < 0.25


def test_interrupt_still_finalises_outputs(clip, tmp_path, monkeypatch):
    path, _ = clip
    from movnect import live

    real_step = live.LivePipeline.step
    calls = {"n": 0}

    def step(self, frame, t):
        calls["n"] += 1
        if calls["n"] == 12:
            raise KeyboardInterrupt
        return real_step(self, frame, t)

    monkeypatch.setattr(live.LivePipeline, "step", step)
    summary = demo(str(path), "default", out_dir=str(tmp_path))
    assert summary["interrupted"] and summary["frames"] == 12
    assert summary["outputs"]["released_frames"] == 11
    text = (tmp_path / "motion.bvh").read_text()
    assert int(text.split("Frames:")[1].split()[0]) == 11
    assert len((tmp_path / "poses.jsonl").read_text().splitlines()) == 11
    cap = cv2.VideoCapture(str(tmp_path / "overlay.mp4"))
    assert cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 11


def test_vmc_receiver_that_is_not_running_does_not_block(clip, tmp_path):
    path, _ = clip
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nobody listens there now
    summary = demo(str(path), "default", vmc=f"127.0.0.1:{port}", max_frames=30)
    assert summary["frames"] == 30


def run(capsys, *argv):
    code = cli.main(list(argv))
    return code, capsys.readouterr().err


def test_bad_sources_give_one_line_errors(capsys, tmp_path):
    code, err = run(capsys, "demo", "--source", "9")
    assert code == 2 and "no webcam at index 9" in err and "--source FILE" in err
    code, err = run(capsys, "demo", "--source", str(tmp_path / "missing.mp4"))
    assert code == 2 and "video not found" in err
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00garbage" * 50)
    code, err = run(capsys, "demo", "--source", str(bad))
    assert code == 2 and ("unreadable video" in err or "no frames" in err)
    code, err = run(capsys, "demo", "--source", str(bad), "--vmc", "localhost")
    assert code == 2 and "HOST:PORT" in err
    assert len(err.strip().splitlines()) == 1


def test_named_real_clip_is_read_from_the_asset_cache(clip, tmp_path, monkeypatch, capsys):
    # a generated clip stands in for the fetched Sports2D clip (the cache is a temp folder)
    monkeypatch.setenv("MOVNECT_CACHE_DIR", str(tmp_path / "cache"))
    code, err = run(capsys, "demo", "--source", "sports2d")
    assert code == 2 and "footage/sports2d_demo.mp4" in err and "movnect fetch-assets footage" in err
    assert len(err.strip().splitlines()) == 1
    (tmp_path / "cache" / "footage").mkdir(parents=True)
    (tmp_path / "cache" / "footage" / "sports2d_demo.mp4").write_bytes(clip[0].read_bytes())
    monkeypatch.chdir(tmp_path)
    summary = demo("sports2d", "default", max_frames=6, detector="off")
    assert summary["frames"] == 6
    assert (tmp_path / "demo_out" / "overlay.mp4").is_file() and (tmp_path / "demo_out" / "motion.bvh").is_file()


def test_parse_host_port():
    assert parse_host_port("127.0.0.1:39539") == ("127.0.0.1", 39539)
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_host_port("host:99999")


def test_absent_webcam_prints_exactly_one_line_on_stderr(capfd):
    # capfd sees the process's file descriptor 2, where OpenCV writes its own log
    code = cli.main(["demo", "--source", "3"])
    err = capfd.readouterr().err
    assert code == 2 and err.strip().splitlines() == [err.strip()] and err.startswith("movnect: error: no webcam")
