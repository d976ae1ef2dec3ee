"""The simulated world: triangle meshes with materials, static structures placed along the ego path, moving labelled
objects and a calibration board.

Every object is a set of triangles in its own frame with, per triangle, a material (reflectivity for LiDAR
intensity, radar cross-section, colour and texture for cameras) and per-vertex texture coordinates in metres.
Static objects are stored in world coordinates; dynamic objects have a pose function ``pose(t) -> (N, 4, 4)``
giving ``T_world_object`` at the box's geometric centre.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from sensorfuse.sim.trajectory import EgoTrajectory, HeldBoard, PathFollower, StraightWalker, rotation_zyx

__all__ = ["BOARD_PATTERNS", "Board", "Material", "Scene", "SceneObject", "build_scene"]

BOARD_PATTERNS = ("checkerboard", "charuco", "none")


@dataclass(frozen=True)
class Material:
    """Surface properties. ``reflectivity`` (0..1) drives LiDAR intensity, ``rcs_dbsm`` the radar cross-section of a
    detection on it, ``tint`` (B, G, R in 0..1) and ``texture`` (index into ``Scene.textures``, sampled with
    ``texel_m`` metres per texel, repeated if ``wrap``) the camera image; ``supersample`` anti-aliases its texture
    with 2x2 rays per pixel (the board, whose corners must be sub-pixel exact)."""

    name: str
    reflectivity: float
    rcs_dbsm: float
    tint: tuple[float, float, float]
    texture: int = 0
    texel_m: float = 1.0
    wrap: bool = True
    supersample: bool = False


@dataclass(eq=False)
class SceneObject:
    """A mesh in its own frame. ``pose`` is None for static objects (vertices in world)."""

    instance_id: int
    kind: str  # ground | building | pole | car | pedestrian | board
    vertices: np.ndarray  # (V, 3) float64
    triangles: np.ndarray  # (T, 3) int32
    uv_m: np.ndarray  # (T, 3, 2) texture coordinates in metres
    material: np.ndarray  # (T,) int32 index into Scene.materials
    size: np.ndarray | None = None  # (l, w, h) for boxes
    label: str | None = None  # class of a labelled object
    track_id: int | None = None
    pose: Callable[[np.ndarray], np.ndarray] | None = None

    @property
    def dynamic(self) -> bool:
        return self.pose is not None


@dataclass(frozen=True, eq=False)
class Board:
    """The calibration target: pattern geometry in the board frame (see :class:`~sensorfuse.sim.trajectory.HeldBoard`).

    ``squares`` is (columns, rows) of squares; inner corners are ``(columns - 1) x (rows - 1)``, the layout OpenCV's
    ``findChessboardCorners(patternSize=(columns-1, rows-1))`` expects. For ChArUco, ``dictionary`` names the
    OpenCV ArUco dictionary used by ``cv2.aruco.CharucoBoard``.
    """

    pattern: str
    squares: tuple[int, int] = (8, 6)
    square_m: float = 0.15
    margin_m: float = 0.075
    thickness_m: float = 0.02
    marker_ratio: float = 0.75
    dictionary: str = "DICT_APRILTAG_36h11"

    @property
    def width_m(self) -> float:
        return self.squares[0] * self.square_m + 2 * self.margin_m

    @property
    def height_m(self) -> float:
        return self.squares[1] * self.square_m + 2 * self.margin_m

    @property
    def size(self) -> np.ndarray:
        return np.array([self.thickness_m, self.width_m, self.height_m])

    def inner_corners_board(self) -> np.ndarray:
        """Inner corners (N, 3) in the board frame, row-major from the top-left as seen from the front (the order
        of ``cv2.findChessboardCorners`` up to its choice of starting corner)."""
        nx, ny = self.squares[0] - 1, self.squares[1] - 1
        i, j = np.meshgrid(np.arange(1, nx + 1), np.arange(1, ny + 1))
        u = self.margin_m + i.ravel() * self.square_m  # metres from the left edge, seen from the front
        v = self.margin_m + j.ravel() * self.square_m  # metres from the top edge
        return np.stack(
            [np.full(u.shape, self.thickness_m / 2), u - self.width_m / 2, self.height_m / 2 - v], axis=1
        ).astype(np.float64)

    def texture(self, texel_m: float) -> np.ndarray:
        """The printed face as a grayscale image, ``texel_m`` metres per pixel (square edges on texel edges)."""
        px = round(self.square_m / texel_m)
        mx = round(self.margin_m / texel_m)
        w, h = self.squares[0] * px + 2 * mx, self.squares[1] * px + 2 * mx
        if self.pattern == "charuco":
            import cv2

            dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, self.dictionary))
            board = cv2.aruco.CharucoBoard(self.squares, self.square_m, self.square_m * self.marker_ratio, dictionary)
            img = board.generateImage((w, h), marginSize=mx, borderBits=1)
            return np.ascontiguousarray(img, dtype=np.uint8)
        img = np.full((h, w), 255, np.uint8)
        for r in range(self.squares[1]):
            for c in range(self.squares[0]):
                if (r + c) % 2 == 0:
                    img[mx + r * px : mx + (r + 1) * px, mx + c * px : mx + (c + 1) * px] = 0
        return img


# -- meshes ---------------------------------------------------------------------------------------------------------
# box faces: outward normal axis, sign, and the (u, v) axes of the face's texture (u right, v down seen from outside)
_BOX_FACES = (
    (0, +1, (1, +1), (2, -1)),  # +x (front): u along +y, v along -z — the board's printed face
    (0, -1, (1, -1), (2, -1)),
    (1, +1, (0, -1), (2, -1)),
    (1, -1, (0, +1), (2, -1)),
    (2, +1, (1, +1), (0, -1)),
    (2, -1, (1, +1), (0, +1)),
)


def box_mesh(size: object, materials: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A box centred at the origin: 24 vertices (4 per face), 12 triangles, per-face materials (6 entries)."""
    half = np.asarray(size, dtype=np.float64) / 2
    verts, tris, uvs, mats = [], [], [], []
    for f, (axis, sign, (ua, us), (va, vs)) in enumerate(_BOX_FACES):
        corners = []
        for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            p = np.zeros(3)
            p[axis] = sign * half[axis]
            p[ua] = us * su * half[ua]
            p[va] = vs * sv * half[va]
            corners.append(p)
        uv = np.array([[(su + 1) * half[ua], (sv + 1) * half[va]] for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1))])
        base = len(verts)
        verts.extend(corners)
        # winding: outward normal by the right-hand rule
        n = np.cross(corners[1] - corners[0], corners[2] - corners[0])
        order = ((0, 1, 2), (0, 2, 3)) if n[axis] * sign > 0 else ((0, 2, 1), (0, 3, 2))
        for tri in order:
            tris.append([base + i for i in tri])
            uvs.append(uv[list(tri)])
            mats.append(materials[f])
    return np.array(verts), np.array(tris, np.int32), np.array(uvs), np.array(mats, np.int32)


def prism_mesh(radius: float, height: float, sides: int, material: int) -> tuple[np.ndarray, ...]:
    """A vertical n-sided prism (a pole) standing on z = 0, without caps below ground."""
    a = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    ring = np.stack([radius * np.cos(a), radius * np.sin(a)], axis=1)
    verts = np.concatenate([np.c_[ring, np.zeros(sides)], np.c_[ring, np.full(sides, height)], [[0, 0, height]]])
    tris, uvs = [], []
    seg = 2 * np.pi * radius / sides
    for i in range(sides):
        j = (i + 1) % sides
        tris += [[i, j, sides + j], [i, sides + j, sides + i]]
        uvs += [[[0, height], [seg, height], [seg, 0]], [[0, height], [seg, 0], [0, 0]]]
        tris.append([sides + i, sides + j, 2 * sides])
        uvs.append([[0, 0], [seg, 0], [0, radius]])
    return np.array(verts), np.array(tris, np.int32), np.array(uvs, float), np.full(len(tris), material, np.int32)


def _transform(T: np.ndarray, p: np.ndarray) -> np.ndarray:
    return p @ T[:3, :3].T + T[:3, 3]


class _Offset:
    """``pose(t) @ T_offset`` (e.g. from a ground-level track to the box centre)."""

    def __init__(self, pose: Callable[[np.ndarray], np.ndarray], T_offset: np.ndarray) -> None:
        self._pose, self._T = pose, T_offset

    def __call__(self, t: np.ndarray) -> np.ndarray:
        return self._pose(t) @ self._T


def _lift(h: float) -> np.ndarray:
    T = np.eye(4)
    T[2, 3] = h
    return T


# -- textures -------------------------------------------------------------------------------------------------------
def _asphalt(rng: np.random.Generator) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    n = gaussian_filter(rng.normal(0, 1, (256, 256)), 1.5, mode="wrap")  # tiles seamlessly
    img = 95 + 14 * n / n.std()
    img[:, 124:132] = 200  # a painted line every texture tile (lines give cameras straight edges on the road)
    img[124:132, :] = 200
    return np.clip(img, 0, 255).astype(np.uint8)


def _bricks() -> np.ndarray:
    img = np.full((128, 256), 150, np.uint8)
    for r in range(0, 128, 16):
        img[r : r + 2, :] = 60
        shift = 0 if (r // 16) % 2 == 0 else 32
        for c in range(shift, 256, 64):
            img[r : r + 16, c : c + 2] = 60
    return img


def _stripes() -> np.ndarray:
    img = np.full((64, 64), 200, np.uint8)
    img[20:36, :] = 40  # windows band
    return img


@dataclass(eq=False)
class Scene:
    """Objects, materials and textures of one simulated log."""

    objects: list[SceneObject]
    materials: list[Material]
    textures: list[np.ndarray]
    board: Board | None = None
    board_object: SceneObject | None = None
    origin_lla: tuple[float, float, float] = (49.011, 8.416, 115.0)  # world (ENU) origin, WGS84
    info: dict = field(default_factory=dict)

    @property
    def static_objects(self) -> list[SceneObject]:
        return [o for o in self.objects if not o.dynamic]

    @property
    def dynamic_objects(self) -> list[SceneObject]:
        return [o for o in self.objects if o.dynamic]

    def static_mesh(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """All static triangles merged: vertices (V,3), triangles (T,3), uv (T,3,2), material (T,), instance (T,)."""
        verts, tris, uvs, mats, inst = [], [], [], [], []
        base = 0
        for o in self.static_objects:
            verts.append(o.vertices)
            tris.append(o.triangles + base)
            uvs.append(o.uv_m)
            mats.append(o.material)
            inst.append(np.full(len(o.triangles), o.instance_id, np.int32))
            base += len(o.vertices)
        return (
            np.concatenate(verts),
            np.concatenate(tris).astype(np.int32),
            np.concatenate(uvs),
            np.concatenate(mats).astype(np.int32),
            np.concatenate(inst),
        )

    def object_by_instance(self) -> dict[int, SceneObject]:
        return {o.instance_id: o for o in self.objects}


def build_scene(
    ego: EgoTrajectory,
    duration_s: float,
    rng: np.random.Generator,
    *,
    board_pattern: str = "checkerboard",
    n_cars: int = 3,
    n_pedestrians: int = 2,
) -> Scene:
    """Place ground, buildings, poles, moving cars and pedestrians and a held board along the ego path (seeded)."""
    mats = [
        Material("ground", 0.12, -25.0, (0.95, 0.95, 0.95), texture=1, texel_m=0.02),
        Material("building", 0.45, 12.0, (0.75, 0.85, 0.95), texture=2, texel_m=0.02),
        Material("roof", 0.3, 5.0, (0.5, 0.5, 0.55)),
        Material("pole", 0.7, 8.0, (0.6, 0.6, 0.6)),
        Material("car_body", 0.35, 10.0, (0.3, 0.3, 0.85), texture=3, texel_m=0.03),
        Material("car_top", 0.2, 5.0, (0.25, 0.25, 0.6)),
        Material("pedestrian", 0.25, -5.0, (0.3, 0.6, 0.3)),
        Material("board_face", 0.8, 15.0, (1.0, 1.0, 1.0), texture=4, texel_m=0.003, wrap=False, supersample=True),
        Material("board_back", 0.5, 15.0, (0.45, 0.45, 0.45)),
    ]
    M = {m.name: i for i, m in enumerate(mats)}
    textures = [np.full((1, 1), 255, np.uint8), _asphalt(rng), _bricks(), _stripes()]
    objects: list[SceneObject] = []
    next_id = iter(range(1, 65535))

    # path samples to place things along
    ts = np.arange(-3.0, duration_s + 3.0, 0.05)
    path = ego.position(ts)[:, :2]
    yaw = ego.yaw(ts)
    normal = np.stack([-np.sin(yaw), np.cos(yaw)], axis=1)
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(path, axis=0), axis=1))])

    def clearance(xy: np.ndarray) -> float:
        return float(np.min(np.linalg.norm(path[None, :, :] - xy[:, None, :], axis=2)))

    # ground: 10 m tiles over the path's bounding box + 60 m
    lo, hi = path.min(0) - 60.0, path.max(0) + 60.0
    tile = 10.0
    gx = np.arange(np.floor(lo[0] / tile) * tile, hi[0] + tile, tile)
    gy = np.arange(np.floor(lo[1] / tile) * tile, hi[1] + tile, tile)
    X, Y = np.meshgrid(gx, gy)
    V = np.stack([X.ravel(), Y.ravel(), np.zeros(X.size)], axis=1)
    nx = len(gx)
    tris, uvs = [], []
    for j in range(len(gy) - 1):
        for i in range(nx - 1):
            a, b, c, d = j * nx + i, j * nx + i + 1, (j + 1) * nx + i + 1, (j + 1) * nx + i
            for tri in ((a, b, c), (a, c, d)):
                tris.append(tri)
                uvs.append(V[list(tri), :2] * (1, -1))  # u east, v south: the texture tiles seamlessly
    objects.append(
        SceneObject(
            next(next_id), "ground", V, np.array(tris, np.int32), np.array(uvs), np.full(len(tris), M["ground"])
        )
    )

    # buildings: both sides, one every ~25 m of path, kept >= 6 m from the path
    for s in np.arange(0.0, arc[-1], 25.0):
        k = int(np.searchsorted(arc, s))
        for side in (-1, 1):
            size = np.array([rng.uniform(8, 18), rng.uniform(6, 10), rng.uniform(6, 14)])
            centre = path[k] + side * normal[k] * (rng.uniform(11, 15) + size[1] / 2)
            R = rotation_zyx(np.array(yaw[k]), np.array(0.0), np.array(0.0))
            corners = centre + (R[:2, :2] @ (np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]]) * size[:2] / 2).T).T
            if clearance(np.vstack([corners, centre[None]])) < 6.0:
                continue
            v, t, uv, m = box_mesh(size, (M["building"],) * 4 + (M["roof"], M["roof"]))
            T = np.eye(4)
            T[:3, :3] = R
            T[:3, 3] = [centre[0], centre[1], size[2] / 2]
            objects.append(SceneObject(next(next_id), "building", _transform(T, v), t, uv, m, size=size))

    # poles: both sides every 15 m, 4.5 m lateral
    for s in np.arange(7.0, arc[-1], 15.0):
        k = int(np.searchsorted(arc, s))
        for side in (-1, 1):
            xy = path[k] + side * normal[k] * 4.5
            if clearance(xy[None]) < 3.0:
                continue
            v, t, uv, m = prism_mesh(0.12, 5.0, 8, M["pole"])
            v = v + np.array([xy[0], xy[1], 0.0])
            objects.append(SceneObject(next(next_id), "pole", v, t, uv, m, size=np.array([0.24, 0.24, 5.0])))

    # moving objects, each with a track id
    track = iter(range(1, 1000))
    car_size = np.array([4.5, 1.85, 1.5])
    car_tracks = [
        PathFollower(ego, tau0=1.8, rate=0.97, lateral_m=0.0),  # lead car
        PathFollower(ego, tau0=duration_s + 1.5, rate=-1.0, lateral_m=3.6),  # oncoming
        PathFollower(ego, tau0=-1.2, rate=1.18, lateral_m=-3.6),  # overtaking on the right
        PathFollower(ego, tau0=4.0, rate=0.5, lateral_m=-3.6),  # slow car ahead on the right
        PathFollower(ego, tau0=duration_s * 0.6, rate=-0.8, lateral_m=7.0),  # oncoming, far lane
    ]

    def labelled_box(kind: str, size: np.ndarray, face_materials: tuple[int, ...], pose) -> SceneObject:
        v, t, uv, m = box_mesh(size, face_materials)
        lift = _Offset(pose, _lift(size[2] / 2))  # tracks run on the ground; the box frame is its centre
        return SceneObject(next(next_id), kind, v, t, uv, m, size=size, label=kind, track_id=next(track), pose=lift)

    for follower in car_tracks[:n_cars]:
        objects.append(labelled_box("car", car_size, (M["car_body"],) * 4 + (M["car_top"],) * 2, follower.pose))
    ped_size = np.array([0.5, 0.6, 1.75])
    for i in range(n_pedestrians):
        tau = duration_s * (0.3 + 0.5 * i / max(n_pedestrians, 1))
        k = int(np.argmin(np.abs(ts - tau)))
        side = 1 if i % 2 == 0 else -1
        start = path[k] + side * normal[k] * rng.uniform(5.5, 7.0)
        heading = np.array([np.cos(yaw[k]), np.sin(yaw[k])]) * (1 if i % 2 else -1)
        walker = StraightWalker(tuple(start), tuple(1.4 * heading))
        objects.append(labelled_box("pedestrian", ped_size, (M["pedestrian"],) * 6, walker.pose))

    board = board_object = None
    if board_pattern != "none":
        if board_pattern not in BOARD_PATTERNS:
            from sensorfuse.errors import ValidationError

            raise ValidationError(f"board pattern {board_pattern!r}: expected one of {', '.join(BOARD_PATTERNS)}")
        board = Board(board_pattern)
        textures.append(board.texture(mats[M["board_face"]].texel_m))
        held = HeldBoard(ego, distance_m=7.0, height_m=1.7, phases=tuple(rng.uniform(0, 2 * np.pi, 6)))
        v, t, uv, m = box_mesh(board.size, (M["board_face"],) + (M["board_back"],) * 5)
        board_object = SceneObject(next(next_id), "board", v, t, uv, m, size=board.size, label="board", pose=held.pose)
        objects.append(board_object)
    else:
        textures.append(np.full((1, 1), 255, np.uint8))
    return Scene(objects, mats, textures, board, board_object)
