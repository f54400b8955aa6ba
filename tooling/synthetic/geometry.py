"""The image grid and the patient's build that every layer is drawn on."""

from dataclasses import dataclass, replace

import numpy as np

from .constants import SLUGS

# --- the picture -----------------------------------------------------------------------------------------


def uniform(rng, low, high):
    """A Python float: a numpy float64 scalar would quietly turn every float32 layer it touches into
    float64, doubling the cost of the whole render."""
    return float(rng.uniform(low, high))


@dataclass(frozen=True)
class Grid:
    """Pixel-centre coordinates, broadcastable: x (1, columns) across, y (rows, 1) down, both 0..1 over the
    whole image. `width` and `height` stay the whole image's when x and y are cropped to a region."""

    width: int
    height: int
    x: np.ndarray
    y: np.ndarray

    @classmethod
    def of(cls, width, height):
        x = ((np.arange(width, dtype=np.float32) + 0.5) / width)[None, :]
        y = ((np.arange(height, dtype=np.float32) + 0.5) / height)[:, None]
        return cls(width, height, x, y)

    @property
    def shape(self):
        return self.y.shape[0], self.x.shape[1]

    @property
    def aspect(self):
        """Multiply a length in x units by this to get the same physical length in y units."""
        return self.width / self.height

    def edge(self, size):
        """A soft-edge width in x units, never under a pixel and a half so that small images stay smooth."""
        return max(size, 1.5 / self.width)

    def region(self, x0, x1, y0, y1):
        """The pixels of a box (grid units), as (row slice, column slice, the grid cropped to them)."""
        columns = pixel_span(x0, x1, self.width)
        rows = pixel_span(y0, y1, self.height)
        return rows, columns, replace(self, x=self.x[:, columns], y=self.y[rows])


def pixel_span(start, stop, size):
    """The pixels from `start` to `stop` (0..1 units) of an axis `size` pixels long, clipped to it."""
    return slice(int(np.clip(np.floor(start * size), 0, size)), int(np.clip(np.ceil(stop * size), 0, size)))


def in_region(grid, box, draw):
    """A whole-image layer that is zero outside `box`: `draw` runs on the box's pixels only."""
    rows, columns, local = grid.region(*box)
    layer = np.zeros(grid.shape, np.float32)
    if local.x.size and local.y.size:
        layer[rows, columns] = draw(local)
    return layer


@dataclass(frozen=True)
class Anatomy:
    """One patient's build, in grid units (Python floats). Sides are the patient's: right -1, left +1."""

    midline: float
    lung_centre: float  # each lung's centre, as distance from the midline
    lung_half_width: float  # from the centre to the lateral chest wall
    lung_top: float  # the apices
    lung_centre_y: float
    domes: dict  # side -> y of the top of that hemidiaphragm
    dome_curve: float  # 1 / the dome's radius
    heart_right: float  # how far the heart reaches right and left of the midline
    heart_left: float
    heart_top: float
    mediastinum: float  # half width of the upper mediastinum
    hila_y: dict
    rib_top: float
    rib_spacing: float
    soft_tissue: float
    air: float

    @property
    def thorax_width(self):
        return 2 * (self.lung_centre + self.lung_half_width)

    @property
    def cardiothoracic_ratio(self):
        return (self.heart_right + self.heart_left) / self.thorax_width

    def u(self, grid, side):
        """Distance from the midline towards `side`'s chest wall (negative across the midline)."""
        return side * (grid.x - self.midline)


def draw_anatomy(rng):
    """A patient's build: small variations around an adult chest filmed on a 35 x 43 cm detector."""
    jitter = rng.normal(0, 1, 16).tolist()
    lung_half_width = 0.2 + 0.008 * jitter[1]
    thorax = 2 * (0.19 + lung_half_width)
    ctr = 0.43 + 0.02 * jitter[2]  # a normal cardiothoracic ratio
    right_share = 0.37 + 0.025 * jitter[3]
    dome = 0.665 + 0.012 * jitter[4]
    return Anatomy(
        midline=0.5 + 0.006 * jitter[0],
        lung_centre=0.19,
        lung_half_width=lung_half_width,
        lung_top=0.085 + 0.006 * jitter[5],
        lung_centre_y=0.47,
        dome_curve=4.4 + 0.3 * jitter[6],
        domes={-1: dome, 1: dome + 0.022 + 0.006 * jitter[7]},
        heart_right=ctr * thorax * right_share,
        heart_left=ctr * thorax * (1 - right_share),
        heart_top=0.44 + 0.01 * jitter[8],
        mediastinum=0.085 + 0.005 * jitter[9],
        hila_y={-1: 0.42, 1: 0.4 + 0.006 * jitter[10]},
        rib_top=0.07 + 0.005 * jitter[11],
        rib_spacing=0.06 + 0.002 * jitter[12],
        soft_tissue=0.6 + 0.02 * jitter[13],
        air=0.42 + 0.015 * jitter[14],
    )


def finding_rng(seed, slug, purpose=0):
    """A finding's own random stream: adding or removing one finding leaves the others where they were."""
    return np.random.default_rng([seed, SLUGS.index(slug), purpose])
