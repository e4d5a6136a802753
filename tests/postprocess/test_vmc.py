"""VMC sender: a local OSC server receives bundles with every address, valid bone names and
unit quaternions; coordinate conventions; a missing receiver never blocks or raises."""
from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest
from pythonosc import dispatcher, osc_server
from pythonosc.osc_bundle import OscBundle

from movnect.rotations import axis_angle_to_matrix, quaternion_to_matrix
from postprocess.skeleton_fit import SkeletonFitter
from postprocess.vmc import UNITY_BONES, VmcSender, camera_to_unity_position, camera_to_unity_quaternion
from tests.postprocess.synthetic import CAMERA, SKELETON, make_sequence

ADDRESSES = {"/VMC/Ext/OK", "/VMC/Ext/T", "/VMC/Ext/Root/Pos", "/VMC/Ext/Bone/Pos"}


@pytest.fixture(scope="module")
def results():
    seq = make_sequence(6, seed=12)
    fitter = SkeletonFitter(SKELETON, CAMERA)
    return [fitter.fit(k, x, None, t) for k, x, t in zip(seq["k"], seq["x"], seq["t"])]


@pytest.fixture()
def server():
    received: list[tuple[str, tuple]] = []
    disp = dispatcher.Dispatcher()
    disp.set_default_handler(lambda address, *args: received.append((address, args)))
    srv = osc_server.ThreadingOSCUDPServer(("127.0.0.1", 0), disp)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_address[1], received
    srv.shutdown()
    srv.server_close()


def test_local_server_receives_every_address_bone_and_unit_quaternions(server, results):
    port, received = server
    with VmcSender(SKELETON, port=port) as sender:
        for r in results:
            assert sender.send(r)
        deadline = time.monotonic() + 5.0
        while sum(a == "/VMC/Ext/T" for a, _ in received) < len(results) and time.monotonic() < deadline:
            time.sleep(0.01)
    assert sender.sent == len(results) and sender.dropped == 0
    assert {a for a, _ in received} == ADDRESSES
    bones = [args for a, args in received if a == "/VMC/Ext/Bone/Pos"]
    assert len(bones) == 17 * len(results)
    assert {b[0] for b in bones} == set(UNITY_BONES)
    for b in bones:
        assert len(b) == 8 and abs(np.linalg.norm(b[4:8]) - 1.0) < 1e-5
    ok = [args for a, args in received if a == "/VMC/Ext/OK"]
    assert ok[0] == (1, 3, 0, 1)
    times = [args[0] for a, args in received if a == "/VMC/Ext/T"]
    np.testing.assert_allclose(sorted(times), [r.timestamp for r in results], atol=1e-6)
    root = [args for a, args in received if a == "/VMC/Ext/Root/Pos"][0]
    assert root[0] == "root" and root[4:] == (0.0, 0.0, 0.0, 1.0)
    hips = [b for b in bones if b[0] == "Hips"][0]
    leg_m = (SKELETON.bone_lengths[1] + SKELETON.bone_lengths[2]) / 1000.0
    assert hips[1:4] == pytest.approx((0.0, leg_m, 0.0), abs=1e-6)   # first frame: standing on origin


def test_bundle_is_a_bundle_in_order(results):
    sender = VmcSender(SKELETON, port=9)
    b = sender.build_bundle(results[0].root_position, results[0].local_rotations, 0.5)
    assert isinstance(b, OscBundle) and b.dgram.startswith(b"#bundle")
    addresses = [m.address for m in b]
    assert addresses[:3] == ["/VMC/Ext/OK", "/VMC/Ext/T", "/VMC/Ext/Root/Pos"] and addresses.count("/VMC/Ext/Bone/Pos") == 17
    sender.close()


def test_convention_unity_frame():
    # person's left (+x camera) is the avatar's left = Unity -X; up (-y) = +Y; towards camera = +Z
    np.testing.assert_allclose(camera_to_unity_position([1000.0, -2000.0, -3000.0]), [-1.0, 2.0, 3.0])
    np.testing.assert_allclose(camera_to_unity_position([1000.0, 0.0, 0.0], mirror=True), [1.0, 0.0, 0.0])
    r = axis_angle_to_matrix(np.array([0.3, -0.7, 1.1]))
    q = camera_to_unity_quaternion(r)                                 # (x, y, z, w)
    v_cam = np.array([0.2, -0.5, 0.9])
    r_unity = quaternion_to_matrix(np.concatenate([q[3:], q[:3]]))
    np.testing.assert_allclose(r_unity @ camera_to_unity_position(v_cam), camera_to_unity_position(r @ v_cam), atol=1e-12)
    qm = camera_to_unity_quaternion(r, mirror=True)
    rm = quaternion_to_matrix(np.concatenate([qm[3:], qm[:3]]))
    np.testing.assert_allclose(rm @ camera_to_unity_position(v_cam, True),
                               camera_to_unity_position(r @ v_cam, True), atol=1e-12)


def test_mirror_swaps_sides_and_turn_around_rotates_root(results):
    r = results[0]
    plain = {m.params[0]: m.params for m in VmcSender(SKELETON, port=9).build_bundle(
        r.root_position, r.local_rotations, 0.0) if m.address == "/VMC/Ext/Bone/Pos"}
    mirrored = {m.params[0]: m.params for m in VmcSender(SKELETON, port=9, mirror=True).build_bundle(
        r.root_position, r.local_rotations, 0.0) if m.address == "/VMC/Ext/Bone/Pos"}
    a, b = np.array(plain["LeftUpperArm"][1:]), np.array(mirrored["RightUpperArm"][1:])
    np.testing.assert_allclose(b, a * [-1, 1, 1, 1, -1, -1, 1], atol=1e-6)
    turned = VmcSender(SKELETON, port=9, turn_around=True).build_bundle(r.root_position, r.local_rotations, 0.0)
    root = [m.params for m in turned if m.address == "/VMC/Ext/Root/Pos"][0]
    assert tuple(root[4:]) == (0.0, 1.0, 0.0, 0.0)


def test_closed_port_never_blocks_or_raises(results):
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()                                                     # nobody listens there now
    sender = VmcSender(SKELETON, port=port)
    for i in range(200):
        sender.send(results[i % len(results)], t=float(i))
    assert sender.sent + sender.dropped == 200
    sender.close()


def test_bad_input(results):
    with pytest.raises(ValueError, match="port"):
        VmcSender(SKELETON, port=0)
    sender = VmcSender(SKELETON, port=9)
    with pytest.raises(ValueError, match=r"\(17, 3\)"):
        sender.build_bundle(np.zeros(3), np.zeros((17, 3)), 0.0)
    rot = np.broadcast_to(np.eye(3), (17, 3, 3)).copy()
    rot[3, 0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        sender.build_bundle(np.zeros(3), rot, 0.0)
    sender.close()
