"""A whole chest: the normal scene's layers, then the findings on it."""

from dataclasses import dataclass, replace

import numpy as np

from .anatomy import (
    airways,
    body_soft_tissue,
    clavicle,
    exposure_noise,
    fracture_for,
    gastric_bubble,
    hila,
    humeral_head,
    lung_air,
    lung_field,
    lung_markings,
    lung_rho,
    ribs,
    smooth_field,
    spine,
    to_presentation_values,
)
from .constants import LATERAL_FINDINGS, SIDES, SLUGS
from .findings import PAINTERS
from .geometry import Anatomy, Grid, draw_anatomy, finding_rng, uniform


def with_findings_on_anatomy(anatomy, findings, seed):
    """Findings that change the build itself: a big heart, a wide mediastinum."""
    if "cardiomegaly" in findings:
        # Cardiothoracic ratio 0.56–0.65 when certain; an uncertain one sits just over the 0.5 limit.
        ctr = 0.5 + findings["cardiomegaly"] * uniform(finding_rng(seed, "cardiomegaly"), 0.06, 0.15)
        scale = ctr / anatomy.cardiothoracic_ratio
        anatomy = replace(
            anatomy,
            heart_right=anatomy.heart_right * scale,
            heart_left=anatomy.heart_left * scale,
            heart_top=anatomy.heart_top - 0.03 * findings["cardiomegaly"],
        )
    if "enlarged-cardiomediastinum" in findings:
        widening = 1 + 0.5 * findings["enlarged-cardiomediastinum"]
        anatomy = replace(anatomy, mediastinum=anatomy.mediastinum * widening)
    return anatomy


def render_chest(rng, width, height, findings=(), sides=None):
    """A frontal chest radiograph as presentation values (uint16, 0..4095, bright = dense), rows = height.

    `findings`: slugs, or {slug: strength 0..1}; `sides`: {slug: 'right' | 'left' | 'both'} for lateral
    findings (drawn from `rng` when missing). Anatomy, findings and noise draw from separate streams, so
    the same rng with and without a finding gives the same patient.
    """
    findings = dict(findings) if isinstance(findings, dict) else dict.fromkeys(findings, 1.0)
    unknown = set(findings) - set(SLUGS)
    if unknown:
        raise ValueError(f"unknown finding(s) {sorted(unknown)}; known: {SLUGS}")
    bad_sides = {slug: side for slug, side in (sides or {}).items() if side not in ("right", "left", "both")}
    if bad_sides:
        raise ValueError(f"sides must be 'right', 'left' or 'both', not {bad_sides}")
    anatomy_seed, findings_seed, noise_seed = rng.integers(2**63, size=3).tolist()
    grid = Grid.of(width, height)
    anatomy_rng = np.random.default_rng(anatomy_seed)
    anatomy = with_findings_on_anatomy(draw_anatomy(anatomy_rng), findings, findings_seed)
    sides = {slug: (sides or {}).get(slug) or default_side(findings_seed, slug) for slug in LATERAL_FINDINGS}
    scene = build_scene(grid, anatomy, anatomy_rng, fracture_for(findings, sides, findings_seed))
    density = scene.density
    for slug, strength in findings.items():
        if slug in PAINTERS:
            painter_rng = finding_rng(findings_seed, slug)
            for side in painted_sides(slug, sides):
                density += strength * PAINTERS[slug](scene, painter_rng, side)
    density += exposure_noise(grid, np.random.default_rng(noise_seed), density)
    return to_presentation_values(density)


def default_side(seed, slug):
    return "right" if finding_rng(seed, slug, purpose=1).random() < 0.5 else "left"


def painted_sides(slug, sides):
    """-1 and/or +1 for a lateral finding; None for one that is central or bilateral by nature."""
    if slug not in LATERAL_FINDINGS:
        return (None,)
    return (-1, 1) if sides[slug] == "both" else (SIDES[sides[slug]],)


@dataclass
class Scene:
    """The normal chest's layers, which findings read to draw themselves in place."""

    grid: Grid
    anatomy: Anatomy
    density: np.ndarray
    lungs: dict  # side -> lung field, 0..1
    rho: dict  # side -> normalised distance from the lung's centre (1 at its outline)
    air: dict  # side -> the density the lung's air takes away (what a filled airspace gives back)
    markings: np.ndarray  # the vessels' density, so that air or fluid can hide them


def build_scene(grid, anatomy, rng, fracture=None):
    density = body_soft_tissue(grid, anatomy)
    lungs, rho, air = {}, {}, {}
    for side in (-1, 1):
        rho[side] = lung_rho(grid, anatomy, side)
        lungs[side] = lung_field(grid, anatomy, side, rho[side])
        air[side] = lung_air(grid, anatomy, lungs[side], rho[side])
        density -= air[side]
    both_lungs = lungs[-1] + lungs[1]
    markings = lung_markings(grid, anatomy, rng) * both_lungs
    density += markings
    density += hila(grid, anatomy) * both_lungs
    density -= airways(grid, anatomy)
    density -= gastric_bubble(grid, anatomy)
    density += spine(grid, anatomy)
    for side in (-1, 1):
        broken = fracture if fracture and fracture.side == side else None
        density += ribs(grid, anatomy, side, rho[side], lungs[side], broken)
        density += clavicle(grid, anatomy, side)
        density += humeral_head(grid, anatomy, side)
    density += smooth_field(grid, rng, 5) * 0.02  # uneven exposure and patient thickness
    return Scene(grid, anatomy, density, lungs, rho, air, markings)
