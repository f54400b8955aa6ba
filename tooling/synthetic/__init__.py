"""Synthetic chest radiographs as DX DICOM files, for the demo, tests and benchmarks (no patient images can
be had offline). Pure code: no models, no database. Deterministic: the same seed gives the same bytes.

The image is built as a map of "density" (0 = direct exposure, about 1 = bone over soft tissue) on a grid
whose x runs 0..1 across the width and y 0..1 down the height, so that the chest fills any requested size.
The patient faces the viewer: the patient's right is on the image's left. Every layer is whole-array numpy.
"""
