"""A small numpy ray caster: exact per-pixel depth and instance masks for :mod:`m2sdk.data.scene`.

Each pixel's ray is intersected analytically with the room (an axis-aligned box seen from inside) and
with every object (oriented boxes, spheres, vertical cylinders) over the object's projected bounding
rectangle only, keeping the nearest hit in a z-buffer. Ray directions have camera-frame z = 1, so the
ray parameter *is* the camera-frame depth. Shading gives the depth cues a model can learn from:
Lambert light from above plus a ceiling point light, a floor tile pattern (perspective), soft contact
shadows under objects, and distance fog.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from m2sdk.data.scene import COLOURS_BGR, Camera, Part, Scene, SceneObject, rot_z

NEAR_M = 1e-3
SUN_DIR = np.array([0.3, -0.2, 1.0]) / np.linalg.norm([0.3, -0.2, 1.0])
HAZE_BGR = np.array([215.0, 215.0, 210.0])
TILE_M = 0.6
SHADOW_CELL_M = 0.03
_SHADOW_CACHE: dict = {}  # the last scene's shadow map: consecutive video frames share it


@dataclass
class RenderResult:
    """One rendered view.

    Attributes:
        image_bgr: (H, W, 3) uint8.
        depth_m: (H, W) float32 camera-frame depth (z) of the visible surface, metres.
        instance_ids: (H, W) int16: index into ``scene.objects`` of the visible object, -1 for room.
        visible_px: Per object, how many pixels show it (after occlusion).
        full_px: Per object, how many pixels it would cover with nothing in front (inside the image).
    """

    image_bgr: np.ndarray
    depth_m: np.ndarray
    instance_ids: np.ndarray
    visible_px: list[int]
    full_px: list[int]

    def mask(self, index: int) -> np.ndarray:
        """Boolean instance mask of object ``index``. Shape (H, W)."""
        return self.instance_ids == index


def render(scene: Scene, camera: Camera) -> RenderResult:
    """Render ``scene`` seen by ``camera``.

    Example:
        >>> res = render(scene, scene.camera)
        >>> cv2.imwrite("view.png", res.image_bgr); res.visible_px[0]
    """
    rays = _rays_world(camera)  # (H, W, 3)
    origin = np.asarray(camera.position_m, dtype=np.float32)
    depth, normal, base = _room(scene, origin, rays)
    ids = np.full(depth.shape, -1, dtype=np.int16)
    full_px = []
    for k, obj in enumerate(scene.objects):
        full_px.append(_draw_object(obj, k, camera, origin, rays, depth, normal, base, ids))
    image = _shade(scene, origin, rays, depth, normal, base, ids)
    visible = np.bincount(ids.ravel() + 1, minlength=len(scene.objects) + 1)[1:]
    return RenderResult(image, depth, ids, [int(v) for v in visible], full_px)


def _rays_world(camera: Camera) -> np.ndarray:
    """World-frame ray directions with camera-frame z = 1 through every pixel centre. Shape (H, W, 3)."""
    u = (np.arange(camera.width, dtype=np.float32) - camera.cx) / camera.fx
    v = (np.arange(camera.height, dtype=np.float32) - camera.cy) / camera.fy
    dirs_c = np.empty((camera.height, camera.width, 3), dtype=np.float32)
    dirs_c[..., 0] = u[None, :]
    dirs_c[..., 1] = v[:, None]
    dirs_c[..., 2] = 1.0
    return dirs_c @ camera.rotation_cw().astype(np.float32)  # d_w = R_wc d_c = d_c @ R_cw


def _room(scene: Scene, origin: np.ndarray, rays: np.ndarray):
    """Exit point of each ray from the room box: depth (H, W), normal (H, W, 3), base colour (H, W, 3)."""
    depth = np.full(rays.shape[:2], np.inf, dtype=np.float32)
    axis = np.zeros(rays.shape[:2], dtype=np.int8)  # 0/1: a wall, 2: floor or ceiling
    for i in range(3):
        di = rays[..., i]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (np.where(di > 0, np.float32(scene.room_m[i]), np.float32(0.0)) - origin[i]) / di
        nearer = t < depth  # NaN and -inf never win; t > 0 because the camera is inside
        depth = np.where(nearer & (t > 0), t, depth)
        axis[nearer & (t > 0)] = i
    normal = np.zeros(rays.shape, dtype=np.float32)
    for i in range(3):
        normal[..., i] = np.where(axis == i, -np.sign(rays[..., i]), np.float32(0.0))
    base = np.empty(rays.shape, dtype=np.float32)
    base[:] = np.asarray(scene.wall_bgr, dtype=np.float32)
    vertical = axis == 2
    base[vertical & (rays[..., 2] < 0)] = np.asarray(scene.floor_bgr, dtype=np.float32)
    base[vertical & (rays[..., 2] > 0)] = 235.0  # ceiling
    return depth, normal, base


def _draw_object(obj: SceneObject, k, camera, origin, rays, depth, normal, base, ids) -> int:
    """Z-test every part of object ``k`` into the buffers in place; returns its unoccluded pixel count.

    Each part is intersected only over its own projected rectangle, so thin legs cost little.
    """
    window = _screen_window(obj.corners_m(), camera)
    if window is None:
        return 0
    v0, v1, u0, u1 = window
    covered = np.zeros((v1 - v0, u1 - u0), dtype=bool)
    rot = rot_z(obj.yaw_deg)
    o_obj = ((origin - np.asarray(obj.centre_m)) @ rot).astype(np.float32)  # object frame: R^T (o - c)
    named = np.asarray(COLOURS_BGR[obj.colour], dtype=np.float32)
    for part in obj.parts:
        pw = _screen_window(_part_corners(obj, part, rot), camera, clip=window)
        if pw is None:
            continue
        pv0, pv1, pu0, pu1 = pw
        t, n = _intersect_part(part, o_obj, rays[pv0:pv1, pu0:pu1] @ rot.astype(np.float32))
        hit = np.isfinite(t)
        covered[pv0 - v0 : pv1 - v0, pu0 - u0 : pu1 - u0] |= hit
        win = hit & (t < depth[pv0:pv1, pu0:pu1])
        depth[pv0:pv1, pu0:pu1][win] = t[win]
        normal[pv0:pv1, pu0:pu1][win] = n[win] @ rot.T.astype(np.float32)
        base[pv0:pv1, pu0:pu1][win] = named * part.colour_scale if part.colour_bgr is None else part.colour_bgr
        ids[pv0:pv1, pu0:pu1][win] = k
    return int(covered.sum())


def _part_corners(obj: SceneObject, part: Part, rot: np.ndarray) -> np.ndarray:
    """World corners of a part's box. Shape (8, 3)."""
    w, d, h = part.size_m
    local = np.array([[sx * w / 2, sy * d / 2, sz * h / 2] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
    return (local + np.asarray(part.offset_m)) @ rot.T + np.asarray(obj.centre_m)


def _screen_window(corners_m: np.ndarray, camera: Camera, clip=None):
    """Pixel rectangle (v0, v1, u0, u1) containing the projected corners, or None if off-screen."""
    uvz = camera.project(corners_m)
    cv0, cv1, cu0, cu1 = clip if clip is not None else (0, camera.height, 0, camera.width)
    if (uvz[:, 2] <= 0.05).any():  # straddles the camera plane: test the whole allowed area
        return cv0, cv1, cu0, cu1
    u0, v0 = np.floor(uvz[:, :2].min(axis=0)).astype(int) - 1
    u1, v1 = np.ceil(uvz[:, :2].max(axis=0)).astype(int) + 2
    u0, v0, u1, v1 = max(u0, cu0), max(v0, cv0), min(u1, cu1), min(v1, cv1)
    return None if u0 >= u1 or v0 >= v1 else (v0, v1, u0, u1)


def _intersect_part(part: Part, o_obj: np.ndarray, d: np.ndarray):
    """Hit depth (inf where missed) and object-frame normal of one part. Shapes (h, w), (h, w, 3)."""
    o = o_obj - np.asarray(part.offset_m, dtype=np.float32)
    half = np.asarray(part.size_m, dtype=np.float32) / 2
    if part.shape == "sphere":
        return _sphere(o, d, float(half[0]))
    if part.shape == "cylinder":
        return _cylinder(o, d, float(half[0]), float(half[2]))
    return _box(o, d, half)


def _box(o: np.ndarray, d: np.ndarray, half: np.ndarray):
    """Slab test against the box |x| <= half in its own frame, one axis at a time (cheap on (h, w))."""
    t_near = np.full(d.shape[:2], -np.inf, dtype=np.float32)
    t_far = np.full(d.shape[:2], np.inf, dtype=np.float32)
    axis = np.zeros(d.shape[:2], dtype=np.int8)
    for i in range(3):
        di = d[..., i]
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = np.float32(1.0) / di
            a, b = (-half[i] - o[i]) * inv, (half[i] - o[i]) * inv
        lo = np.minimum(a, b)
        nearer = lo > t_near
        t_near = np.where(nearer, lo, t_near)
        axis[nearer] = i
        t_far = np.minimum(t_far, np.maximum(a, b))
    hit = (t_near <= t_far) & (t_near > NEAR_M)
    n = np.zeros(d.shape, dtype=np.float32)
    for i in range(3):
        n[..., i] = np.where(axis == i, -np.sign(d[..., i]), np.float32(0.0))
    return np.where(hit, t_near, np.float32(np.inf)), n


def _sphere(o: np.ndarray, d: np.ndarray, r: float):
    """Ray-sphere hit (sphere of radius r at the part origin)."""
    dx, dy, dz = d[..., 0], d[..., 1], d[..., 2]
    a = dx * dx + dy * dy + dz * dz
    b = 2 * (dx * o[0] + dy * o[1] + dz * o[2])
    disc = b * b - 4 * a * np.float32(o @ o - r * r)
    with np.errstate(invalid="ignore"):
        t = (-b - np.sqrt(disc)) / (2 * a)
    t = np.where((disc >= 0) & (t > NEAR_M), t, np.float32(np.inf))
    t0 = np.where(np.isfinite(t), t, np.float32(0.0))
    n = np.stack([(o[i] + t0 * d[..., i]) / np.float32(r) for i in range(3)], axis=-1)
    return t, n


def _cylinder(o: np.ndarray, d: np.ndarray, r: float, half_h: float):
    """Vertical cylinder |xy| <= r, |z| <= half_h: side wall and both caps (float32 throughout)."""
    dx, dy, dz = d[..., 0], d[..., 1], d[..., 2]
    r, half_h, inf = np.float32(r), np.float32(half_h), np.float32(np.inf)
    a = dx * dx + dy * dy
    b = 2 * (dx * o[0] + dy * o[1])
    disc = b * b - 4 * a * (o[0] * o[0] + o[1] * o[1] - r * r)
    with np.errstate(invalid="ignore", divide="ignore"):
        t_side = (-b - np.sqrt(disc)) / (2 * a)
        z_side = o[2] + t_side * dz
        t_side = np.where((disc >= 0) & (np.abs(z_side) <= half_h) & (t_side > NEAR_M), t_side, inf)
        cap_z = np.where(dz < 0, half_h, -half_h)  # the cap facing the ray
        t_cap = (cap_z - o[2]) / dz
        px, py = o[0] + t_cap * dx, o[1] + t_cap * dy
    t_cap = np.where((px * px + py * py <= r * r) & (t_cap > NEAR_M), t_cap, inf)
    side = t_side <= t_cap
    t = np.where(side, t_side, t_cap)
    t0 = np.where(np.isfinite(t), t, np.float32(0.0))
    n = np.zeros(d.shape, dtype=np.float32)
    n[..., 0] = np.where(side, (o[0] + t0 * dx) / r, np.float32(0.0))
    n[..., 1] = np.where(side, (o[1] + t0 * dy) / r, np.float32(0.0))
    n[..., 2] = np.where(side, np.float32(0.0), np.sign(cap_z))
    return t, n


def _shade(scene: Scene, origin, rays, depth, normal, base, ids) -> np.ndarray:
    """Lambert + point light + floor tiles + contact shadows + fog. Returns (H, W, 3) uint8."""
    w, d, h = scene.room_m
    lamp = (w / 2, d / 2, h - 0.5)
    p = [origin[i] + depth * rays[..., i] for i in range(3)]  # world hit points, 3 × (H, W)
    to_lamp = [np.float32(lamp[i]) - p[i] for i in range(3)]
    dist2 = to_lamp[0] ** 2 + to_lamp[1] ** 2 + to_lamp[2] ** 2
    n = [normal[..., i] for i in range(3)]
    facing = (n[0] * to_lamp[0] + n[1] * to_lamp[1] + n[2] * to_lamp[2]) / np.sqrt(dist2 + 1e-9)
    point_light = np.clip(facing, 0, 1) / (1 + 0.08 * dist2)
    sun = np.clip(n[0] * SUN_DIR[0] + n[1] * SUN_DIR[1] + n[2] * SUN_DIR[2], 0, 1)
    shade = np.float32(0.38) + np.float32(0.32) * sun.astype(np.float32) + np.float32(0.45) * point_light
    floor = (ids < 0) & (n[2] > 0.5)
    shade[floor] *= _floor_factor(scene, p[0][floor], p[1][floor])
    dist = depth * np.sqrt(rays[..., 0] ** 2 + rays[..., 1] ** 2 + rays[..., 2] ** 2)
    fog = np.exp(np.float32(-scene.fog_per_m) * dist)
    colour = base * (shade * fog)[..., None] + HAZE_BGR.astype(np.float32) * (1 - fog)[..., None]
    return np.clip(colour + 0.5, 0, 255).astype(np.uint8)


def _floor_factor(scene: Scene, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Tile pattern times soft contact shadows under every object, at floor points (x, y). Shape (N,)."""
    parity = (np.floor(x / TILE_M) + np.floor(y / TILE_M)) % 2
    shadow = _shadow_map(scene)  # (rows along y, cols along x)
    ix = np.clip((x / SHADOW_CELL_M).astype(np.int32), 0, shadow.shape[1] - 1)
    iy = np.clip((y / SHADOW_CELL_M).astype(np.int32), 0, shadow.shape[0] - 1)
    return np.where(parity > 0, np.float32(0.93), np.float32(1.0)) * shadow[iy, ix]


def _shadow_map(scene: Scene) -> np.ndarray:
    """Top-down soft contact shadows on a floor grid, computed once per scene (video frames reuse it)."""
    key = (scene.room_m, tuple((o.centre_m, o.size_m, o.shape) for o in scene.objects))
    if _SHADOW_CACHE.get("key") == key:
        return _SHADOW_CACHE["map"]
    xs = (np.arange(int(scene.room_m[0] / SHADOW_CELL_M) + 1, dtype=np.float32) + 0.5) * SHADOW_CELL_M
    ys = (np.arange(int(scene.room_m[1] / SHADOW_CELL_M) + 1, dtype=np.float32) + 0.5) * SHADOW_CELL_M
    gx, gy = np.meshgrid(xs, ys)  # (rows=y, cols=x)
    shadow = np.ones(gx.shape, dtype=np.float32)
    for obj in scene.objects:
        cx, cy, _ = obj.centre_m
        r = obj.footprint_radius_m * (0.7 if obj.shape == "box" else 0.9)
        gap = np.maximum(np.hypot(gx - cx, gy - cy) - r, 0)
        shadow *= 1 - 0.45 * np.exp(-((gap / 0.18) ** 2))
    _SHADOW_CACHE.update(key=key, map=shadow)
    return shadow
