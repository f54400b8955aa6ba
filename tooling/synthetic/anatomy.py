"""The normal chest's layers (soft tissue, lungs, vessels, airways, bones), each a density map."""

from dataclasses import dataclass

import numpy as np

from .constants import MAX_VALUE, SIDES
from .geometry import finding_rng, in_region, uniform

# --- anatomy layers ------------------------------------------------------------------------------------


def ramp(value, edge):
    """0 below -edge/2, 1 above +edge/2: a soft inside test for a signed distance. Works in place on
    `value`, which callers pass as a fresh temporary: whole-image allocations are most of the cost."""
    value *= 1 / edge
    value += 0.5
    return np.clip(value, 0, 1, out=value)


def body_soft_tissue(grid, anatomy):
    """Neck, shoulders and trunk, thickest in the middle; air beside the neck and the waist."""
    u = np.abs(grid.x - anatomy.midline)
    # The neck, then the trapezius sloping down to the shoulder tips, with air above.
    shoulders = np.clip(0.35 * (u - 0.085), 0, None) ** 0.8 * 0.55
    half_width = 0.49 - 0.04 * np.clip((grid.y - 0.75) / 0.25, 0, 1)
    outline = ramp(grid.y - shoulders, grid.edge(0.015)) * ramp(half_width - u, grid.edge(0.02))
    thickness = np.sqrt(np.clip(1 - (u / 0.53) ** 2, 0, 1))
    return anatomy.soft_tissue * outline * (0.1 + 0.9 * thickness**1.5)


def lung_rho(grid, anatomy, side):
    """A rounded-box distance from the lung's centre: 1 on the outline, larger outside. The medial half
    reaches past the midline: the mediastinum, not this box, makes the lung's medial border."""
    du = anatomy.u(grid, side) - anatomy.lung_centre
    dy = grid.y - anatomy.lung_centre_y
    half_width = np.where(du > 0, np.float32(anatomy.lung_half_width), np.float32(0.3))
    half_height = np.where(dy < 0, np.float32(anatomy.lung_centre_y - anatomy.lung_top), np.float32(0.6))
    return (np.abs(du / half_width) ** 2.2 + np.abs(dy / half_height) ** 2.2) ** (1 / 2.2)


def diaphragm_y(grid, anatomy, side):
    """The hemidiaphragm's dome, an arc highest at mid-lung that falls ever more steeply to a deep
    costophrenic angle."""
    radius = 1 / anatomy.dome_curve
    offset = np.minimum(np.abs(anatomy.u(grid, side) - 0.16), 0.999 * radius)
    return anatomy.domes[side] + radius - np.sqrt(radius * radius - offset * offset)


def mediastinum_edge(grid, anatomy, side):
    """Per row, how far the mediastinum and heart reach towards `side` (a column of shape (rows, 1))."""
    y = grid.y
    # Narrow at the thoracic inlet, wider at the arch.
    upper = anatomy.mediastinum * (0.75 + 0.25 * np.clip((y - 0.12) / 0.25, 0, 1))
    reach = anatomy.heart_left if side == 1 else anatomy.heart_right
    # Convex borders out of the mediastinum's: the right atrium bulging, widest 60% of the way down; the
    # left ventricle sloping out and down to its apex on the diaphragm.
    top = anatomy.heart_top + (-0.02 if side == 1 else 0.02)
    if side == 1:
        down = np.clip((y - top) / (anatomy.domes[side] - top), 0, 1)
        bulge = 1 - (1 - down) ** 1.7
    else:
        widest = top + (anatomy.domes[side] - top) * 0.6
        bulge = np.clip(1 - ((y - widest) / (widest - top)) ** 2, 0, 1) ** 0.7
    heart = upper + (reach - upper) * bulge
    if side == 1:  # the aortic knob and the pulmonary trunk bulge on the left
        upper = upper + 0.03 * np.exp(-(((y - 0.29) / 0.035) ** 2)) + 0.012 * np.exp(-(((y - 0.375) / 0.03) ** 2))
    return np.maximum(upper, heart)


def lung_field(grid, anatomy, side, rho):
    """Inside the rounded box, above the hemidiaphragm, lateral to the mediastinum and heart."""
    u = anatomy.u(grid, side)
    edge = grid.edge(0.004)
    # The heart is round: lung overlaps its edge in front and behind, so that border is softer.
    return (
        ramp((1 - rho) * anatomy.lung_half_width, edge)
        * ramp(diaphragm_y(grid, anatomy, side) - grid.y, edge * grid.aspect)
        * ramp(u - mediastinum_edge(grid, anatomy, side), grid.edge(0.012))
    )


def lung_air(grid, anatomy, lung, rho):
    """The lung is thickest in its middle and thin at the outline and the apex, so darkest mid-zone."""
    apex = np.clip((grid.y - anatomy.lung_top) / 0.15, 0, 1)
    base = np.clip((grid.y - 0.5) / 0.25, 0, 1)  # breasts and the posterior sulci overlap the bases
    return anatomy.air * lung * (1.05 - 0.35 * rho * rho) * (0.7 + 0.3 * apex - 0.15 * base)


def lung_markings(grid, anatomy, rng):
    """Vessels fanning out of each hilum, branching, thinning and fading towards the periphery."""
    markings = np.zeros(grid.shape, np.float32)
    for side in (-1, 1):
        near, far = anatomy.midline + side * 0.04, anatomy.midline + side * 0.42
        box = (min(near, far), max(near, far), anatomy.lung_top - 0.01, anatomy.domes[side] + 0.17)
        markings += in_region(grid, box, lambda local, side=side: hilar_vessels(local, anatomy, rng, side))
    return markings


def hilar_vessels(grid, anatomy, rng, side):
    dx = grid.x - (anatomy.midline + side * 0.11)
    dy = (grid.y - anatomy.hila_y[side]) / grid.aspect
    radius = np.sqrt(dx * dx + dy * dy)
    angle = np.arctan2(dy, dx)
    angle += 0.03 * np.sin(radius * 20 + uniform(rng, 0, 6.3)) + 0.05 * np.sin(radius * 7 + uniform(rng, 0, 6.3))
    # The lookup tables over the angle need about a pixel per step at the lungs' edge, no finer.
    steps = int(min(4096, 2 ** np.ceil(np.log2(max(2.5 * grid.width, 256)))))
    angle *= steps / (2 * np.pi)
    index = angle.astype(np.int32)
    index %= steps
    vessels = np.zeros(grid.shape, np.float32)
    # Three generations: few and wide near the hilum, more and thinner further out, each vessel
    # ending at its own distance.
    for count, spread, inner, outer, weight in (
        (12, 0.07, 0.03, 0.2, 1.0),
        (30, 0.03, 0.08, 0.32, 0.8),
        (90, 0.009, 0.15, 0.46, 0.45),
    ):
        profile, ends = angular_vessels(rng, steps, count, spread, inner, outer)
        reach = np.minimum((radius - inner) * (1 / 0.04), (ends[index] - radius) * (1 / 0.06))
        np.clip(reach, 0, 1, out=reach)
        reach *= profile[index]
        reach *= weight
        vessels += reach
    lower_zone = 0.7 + 0.5 * np.clip((grid.y - anatomy.hila_y[side]) / 0.25, 0, 1)  # gravity: bigger below
    fading = 1 - 0.5 * np.clip(radius * (1 / 0.45), 0, 1)  # ever smaller vessels towards the periphery
    return 0.14 * vessels * lower_zone * fading


def angular_vessels(rng, steps, count, spread, inner, outer):
    """Lookups over `steps` angles round a hilum: `count` bumps of width `spread` radians at random
    angles (the vessels' profile), and for each angle the distance where the nearest vessel ends."""
    centres = rng.uniform(0, 2 * np.pi, count)[:, None]
    calibres = rng.uniform(0.5, 1.0, count)[:, None]
    ends = rng.uniform(inner + 0.5 * (outer - inner), outer, count)
    angles = np.arange(steps) * (2 * np.pi / steps)
    offsets = np.abs(np.mod(angles - centres + np.pi, 2 * np.pi) - np.pi)  # (vessel, angle), 0..pi
    profile = (calibres * np.exp(-((offsets / spread) ** 2))).sum(axis=0)
    return np.minimum(profile, 1.3).astype(np.float32), ends[offsets.argmin(axis=0)].astype(np.float32)


def blob(grid, cx, cy, rx, ry):
    """exp(-r^2) round (cx, cy), radii in x units (ry is made the same physical length in y)."""

    def draw(local):
        return np.exp(-(((local.x - cx) / rx) ** 2 + ((local.y - cy) / (ry * grid.aspect)) ** 2))

    return in_region(grid, (cx - 3 * rx, cx + 3 * rx, cy - 3 * ry * grid.aspect, cy + 3 * ry * grid.aspect), draw)


def hila(grid, anatomy):
    """The pulmonary arteries at the hila: lobulated densities beside the heart."""
    density = np.zeros(grid.shape, np.float32)
    for side in (-1, 1):
        for du, dy, r in ((0.12, 0.0, 0.026), (0.135, 0.045, 0.018)):
            density += 0.09 * blob(grid, anatomy.midline + side * du, anatomy.hila_y[side] + dy, r, 1.6 * r)
    return density


def airways(grid, anatomy):
    """The trachea down to the carina, and the main bronchi: air, so less density."""
    return in_region(
        grid, (anatomy.midline - 0.1, anatomy.midline + 0.1, 0, 0.42), lambda local: trachea_and_bronchi(local, anatomy)
    )


def trachea_and_bronchi(grid, anatomy):
    carina = 0.33
    x0 = anatomy.midline - 0.008 * np.clip((grid.y - 0.2) / 0.1, 0, 1)  # pushed right by the aortic knob
    trachea = ramp(0.018 - np.abs(grid.x - x0), grid.edge(0.008)) * ramp(carina + 0.005 - grid.y, 0.01)
    bronchi = np.zeros(grid.shape, np.float32)
    below = np.clip(grid.y - carina, 0, None)
    for side, slope, length in ((-1, 0.6, 0.05), (1, 0.9, 0.06)):
        centre = x0 + side * below * slope
        taper = np.clip((length - below) / length, 0, 1) * (grid.y > carina - 0.01)
        bronchi += ramp(0.006 + 0.008 * taper - np.abs(grid.x - centre), grid.edge(0.006)) * taper
    return 0.15 * np.maximum(trachea, bronchi)


def gastric_bubble(grid, anatomy):
    """The stomach's air under the left hemidiaphragm."""
    return 0.1 * blob(grid, anatomy.midline + 0.15, anatomy.domes[1] + 0.055, 0.04, 0.022)


def spine(grid, anatomy):
    """Vertebral bodies with their pedicles, faint through the mediastinum."""

    def draw(local):
        u = local.x - anatomy.midline
        phase = np.mod(local.y - 0.02, 0.058) / 0.058
        column = ramp(0.035 - np.abs(u), grid.edge(0.006))
        discs = 1 - 0.4 * np.exp(-(((phase - 0.9) / 0.08) ** 2))
        pedicles = np.exp(-(((np.abs(u) - 0.026) / 0.007) ** 2 + ((phase - 0.4) / 0.15) ** 2))
        return 0.03 * column * discs + 0.02 * pedicles

    return in_region(grid, (anatomy.midline - 0.05, anatomy.midline + 0.05, 0, 1), draw)


@dataclass(frozen=True)
class Fracture:
    side: int
    rib: int
    u: float  # where along the rib, as distance from the midline
    step: float  # how far the lateral fragment dropped, in rib half-widths


def fracture_for(findings, sides, seed):
    """Where the broken rib is: a mid rib, laterally, its outer fragment displaced downwards."""
    if "fracture" not in findings:
        return None
    rng = finding_rng(seed, "fracture")
    side = "right" if sides["fracture"] == "both" else sides["fracture"]
    return Fracture(
        SIDES[side], int(rng.integers(3, 7)), uniform(rng, 0.26, 0.33), uniform(rng, 1.0, 1.5) * findings["fracture"]
    )


def ribs(grid, anatomy, side, rho, lung, fracture=None):
    """Posterior ribs arching out from the spine and bending down to the chest wall, and the fainter
    anterior ribs sloping down towards the sternum; each rib a band with a denser cortex. Over soft
    tissue the processing curve flattens bone contrast, so ribs are fainter outside the lung."""
    box = (anatomy.midline, 1, 0, 1) if side == 1 else (0, anatomy.midline, 0, 1)
    rows, columns, local = grid.region(*box)
    layer = np.zeros(grid.shape, np.float32)
    layer[rows, columns] = rib_cage(local, anatomy, side, rho[rows, columns], fracture)
    layer *= 0.3 + 0.7 * lung
    return layer


def rib_cage(grid, anatomy, side, rho, fracture):
    u = anatomy.u(grid, side)
    cage = ramp((1.07 - rho) * anatomy.lung_half_width, grid.edge(0.006)) * ramp(u - 0.035, 0.02)
    # Posterior: the ribs' centre lines are one curve, shifted down by a rib spacing each.
    arch = -0.2 * u + 1.3 * u * u
    # Lower ribs are further apart: position p of y solves y = top + spacing * (p + 0.02 p^2).
    height = (grid.y - arch - anatomy.rib_top) / anatomy.rib_spacing
    position = (np.sqrt(np.clip(1 + 0.08 * height, 0, None)) - 1) / 0.04
    number = np.round(position)
    half_width = 0.17 + 0.08 * np.clip(u / 0.35, 0, 1)
    if fracture:
        broken = (number == fracture.rib) & (u > fracture.u)
        position -= broken * (fracture.step * half_width)  # the lateral fragment sits lower
    posterior = rib_band((position - number) / half_width) * ((number >= 0) & (number < 12))
    if fracture:
        gap = ramp(np.abs(u - fracture.u) - 0.005, grid.edge(0.002))
        posterior *= np.where(number == fracture.rib, gap, np.float32(1))
    # Anterior: from the lateral wall down and in, ending at the (invisible) costal cartilage.
    slope = 0.55 * (0.42 - u) ** 2 + 0.2 * (0.42 - u)
    position = (grid.y - slope - 0.19) / 0.068
    anterior = rib_band((position - np.round(position)) / 0.2) * ((position > -0.5) & (position < 5.5))
    return cage * (0.07 * posterior + 0.03 * anterior * ramp(u - 0.14, 0.03))


def rib_band(t):
    """A bone across its width (t in -1..1, down): denser at the cortex, its lower edge the sharper."""
    inside = np.clip((1 - np.abs(t)) * np.where(t > 0, np.float32(6), np.float32(3)), 0, 1)
    return inside * (0.6 + 0.4 * t * t)


def clavicle(grid, anatomy, side):
    """An S-shaped bone from the sternum out and up to the shoulder."""
    near, far = anatomy.midline + side * 0.03, anatomy.midline + side * 0.36
    return in_region(grid, (min(near, far), max(near, far), 0, 0.3), lambda local: clavicle_bone(local, anatomy, side))


def clavicle_bone(grid, anatomy, side):
    u = anatomy.u(grid, side)
    centre = 0.175 - 0.2 * (u - 0.05) + 0.012 * np.sin((u - 0.05) * 14)
    half_width = 0.014 + 0.006 * np.clip((0.12 - u) / 0.07, 0, 1)  # the sternal end is broader
    extent = ramp(u - 0.045, 0.02) * ramp(0.34 - u, 0.03)
    return 0.16 * rib_band((grid.y - centre) / half_width) * extent


def humeral_head(grid, anatomy, side):
    """The top of the humerus at the edge of the field, with its cortex."""
    cx, cy, radius = anatomy.midline + side * 0.475, 0.16, 0.06

    def draw(local):
        distance = np.sqrt(((local.x - cx) / radius) ** 2 + ((local.y - cy) / (radius * grid.aspect)) ** 2)
        neck = ramp(0.035 - np.abs(local.x - cx - side * 0.01), 0.015) * ramp(local.y - cy, 0.02)
        bone = np.maximum(ramp(1 - distance, 0.1), neck * np.clip((0.4 - local.y) / 0.1, 0, 1))
        return 0.12 * bone * (0.8 + 0.2 * np.clip(distance, 0, 1) ** 6)

    return in_region(grid, (cx - radius * 1.2, cx + radius * 1.2, 0, 0.45), draw)


def smooth_field(grid, rng, cells):
    """Gentle random variation: a coarse grid of normal values, interpolated smoothly over the image."""
    coarse = rng.standard_normal((cells + 1, cells + 1)).astype(np.float32)
    return interpolate_rows(interpolate_columns(coarse, grid.x[0] * cells), grid.y[:, 0] * cells)


def interpolate_rows(coarse, positions):
    """Smoothstep interpolation between the rows of `coarse` at fractional row `positions`."""
    low = np.minimum(positions.astype(np.int32), coarse.shape[0] - 2)
    t = positions - low.astype(np.float32)
    t = (t * t * (3 - 2 * t))[:, None]
    return coarse[low] * (1 - t) + coarse[low + 1] * t


def interpolate_columns(field, positions):
    return interpolate_rows(field.T, positions).T


def exposure_noise(grid, rng, density):
    """Quantum noise, stronger where less X-ray got through."""
    noise = rng.standard_normal(grid.shape, dtype=np.float32)
    return noise * (0.006 + 0.008 * np.clip(density, 0, 1))


def to_presentation_values(density):
    """The processing curve of a For Presentation image: lungs dark grey, soft tissue light, bone and
    metal compressed towards white rather than clipped."""
    shaped = 0.03 + 0.94 * np.tanh(np.clip(density, 0, None) * 1.3) * (1 / np.tanh(1.3))
    return np.clip(np.rint(shaped * MAX_VALUE), 0, MAX_VALUE).astype(np.uint16)
