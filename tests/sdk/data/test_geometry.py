"""Geometry checks that do not trust the renderer's own code path: hand-written pinhole projections,
hand-built scenes with answers computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from m2sdk.data import tasks_numeric
from m2sdk.data.layout import sample_scene
from m2sdk.data.question_base import image_view
from m2sdk.data.render import render
from m2sdk.data.scene import Camera, Scene, SceneObject
from m2sdk.units import to_si

W, H = 160, 120
SOLID = {"cabinet", "box", "ball", "bin", "sofa", "bed"}  # their bounding-box centre lies inside the solid


def hand_project(point, position, yaw_deg, pitch_deg, fx, fy, cx, cy):
    """Pinhole projection written out from the camera's axes (OpenCV: x right, y down, z forward)."""
    yaw, pitch = math.radians(yaw_deg), math.radians(pitch_deg)
    forward = (math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw), -math.sin(pitch))
    right = (math.sin(yaw), -math.cos(yaw), 0.0)
    down = (  # forward × right
        forward[1] * right[2] - forward[2] * right[1],
        forward[2] * right[0] - forward[0] * right[2],
        forward[0] * right[1] - forward[1] * right[0],
    )
    rel = [p - c for p, c in zip(point, position, strict=True)]
    x, y, z = (sum(a * b for a, b in zip(axis, rel, strict=True)) for axis in (right, down, forward))
    return fx * x / z + cx, fy * y / z + cy, z


def hand_scene(objects, camera=None) -> Scene:
    camera = camera or Camera.from_fov((5.0, 1.0, 1.5), yaw_deg=90, pitch_deg=0, width=W, height=H, hfov_deg=70)
    return Scene((10.0, 8.0, 3.0), objects, camera, camera, [camera])


def ball(colour, centre, diameter=0.4):
    return SceneObject("ball", colour, "sphere", centre, (diameter, diameter, diameter))


def test_sphere_straight_ahead_has_exact_depth_and_distance():
    scene = hand_scene([ball("red", (5.0, 4.0, 1.5))])  # camera at (5, 1, 1.5) looking along +y: 3 m ahead
    result = render(scene, scene.camera)
    u, v = round(scene.camera.cx), round(scene.camera.cy)
    assert result.instance_ids[v, u] == 0
    assert result.depth_m[v, u] == pytest.approx(3.0 - 0.2, abs=1e-3)  # front surface of a 0.2 m radius ball
    view = image_view(result, scene.camera, "x.png", min_px=20)
    q = tasks_numeric.camera_distance(scene, view, np.random.default_rng(0))
    assert to_si(q.answer, q.unit)[0] == pytest.approx(3.0, rel=0.005)  # 2 decimals in any unit


def test_object_distance_and_room_area_by_hand():
    a, b = (4.0, 4.0, 1.5), (6.0, 5.0, 1.2)
    scene = hand_scene([ball("red", a), ball("blue", b)])
    view = image_view(render(scene, scene.camera), scene.camera, "x.png", min_px=20)
    q = tasks_numeric.object_distance(scene, view, np.random.default_rng(1))
    expected = math.sqrt(2.0**2 + 1.0**2 + 0.3**2)
    assert to_si(q.answer, q.unit)[0] == pytest.approx(expected, rel=0.005)
    room = tasks_numeric.room_size(scene, view, np.random.default_rng(2))
    assert to_si(room.answer, room.unit)[0] == pytest.approx(10.0 * 8.0, rel=0.002)


def test_box_mask_matches_hand_projected_corners():
    box = SceneObject("box", "green", "box", (5.5, 4.0, 0.3), (0.6, 0.6, 0.6), yaw_deg=30.0)
    scene = hand_scene([box])
    cam = scene.camera
    mask = render(scene, cam).mask(0)
    corners = [
        hand_project(c, cam.position_m, cam.yaw_deg, cam.pitch_deg, cam.fx, cam.fy, cam.cx, cam.cy)
        for c in box.corners_m()
    ]
    us, vs = [c[0] for c in corners], [c[1] for c in corners]
    rows, cols = np.nonzero(mask)
    assert cols.min() == pytest.approx(min(us), abs=1.5) and cols.max() == pytest.approx(max(us), abs=1.5)
    assert rows.min() == pytest.approx(min(vs), abs=1.5) and rows.max() == pytest.approx(min(max(vs), H - 1), abs=1.5)


@pytest.mark.parametrize("seed", range(6))
def test_projected_centres_fall_in_masks_or_behind_occluders(seed):
    scene = sample_scene(np.random.default_rng(seed), W, H)
    cam = scene.camera
    result = render(scene, cam)
    checked = 0
    for k, obj in enumerate(scene.objects):
        u, v, z = hand_project(obj.centre_m, cam.position_m, cam.yaw_deg, cam.pitch_deg, cam.fx, cam.fy, cam.cx, cam.cy)
        ui, vi = round(u), round(v)
        if obj.category not in SOLID or z <= 0 or not (0 <= ui < W and 0 <= vi < H):
            continue
        checked += 1
        if result.instance_ids[vi, ui] == k:
            assert result.depth_m[vi, ui] <= z + 1e-4  # the visible surface is in front of the centre
        else:  # hidden: something nearer than the centre covers that pixel
            assert result.instance_ids[vi, ui] >= 0 and result.depth_m[vi, ui] < z
    assert checked > 0 or seed > 2


def test_visible_pixel_counts_match_masks():
    scene = sample_scene(np.random.default_rng(3), W, H)
    result = render(scene, scene.camera)
    for k in range(len(scene.objects)):
        assert result.visible_px[k] == int(result.mask(k).sum()) <= result.full_px[k]
