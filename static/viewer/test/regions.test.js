// Where a reasoning step's region is outlined: on the side of the image the file's orientation puts it.
import { describe, expect, it } from "vitest";

import { edgeMarkers, regionBoxes } from "../src/regions.js";

const PA = ["L", "F"]; // columns run to the patient's left: the patient's right on the image's left
const MIRRORED = ["R", "F"];

describe("regionBoxes", () => {
  it("puts the patient's right lung on the image's left half of a PA film, and mirrors it when the file does", () => {
    const [[x0, , x1]] = regionBoxes("right-lung", "The right lung is clear.", PA);
    expect(x1).toBeLessThanOrEqual(0.5);
    expect(x0).toBeGreaterThanOrEqual(0);
    const [[m0, , m1]] = regionBoxes("right-lung", "The right lung is clear.", MIRRORED);
    expect(m0).toBeCloseTo(1 - x1);
    expect(m1).toBeCloseTo(1 - x0);
  });

  it("narrows a lung to the zone the step names", () => {
    const [whole] = regionBoxes("left-lung", "The left lung is clear.", PA);
    const [lower] = regionBoxes("left-lung", "Patchy opacity in the left lower zone.", PA);
    expect(lower[1]).toBeCloseTo(whole[1] + ((whole[3] - whole[1]) * 2) / 3);
    expect(lower[3]).toBeCloseTo(whole[3]);
    const [apex] = regionBoxes("left-lung", "A nodule at the left apex.", PA);
    expect(apex[3]).toBeCloseTo(whole[1] + (whole[3] - whole[1]) / 3);
  });

  it("outlines one side of the pleura when the step names a side, both otherwise", () => {
    expect(regionBoxes("pleura", "No pleural effusion or pneumothorax.", PA)).toHaveLength(2);
    const [[x0]] = regionBoxes("pleura", "A small left pleural effusion.", PA);
    expect(x0).toBeGreaterThan(0.5);
  });

  it("outlines nothing for a step about the whole image", () => {
    expect(regionBoxes("image-quality", "Adequate inspiration.", PA)).toEqual([]);
    expect(regionBoxes("overall", "In summary, pneumonia.", PA)).toEqual([]);
    expect(regionBoxes("other", "", PA)).toEqual([]);
  });
});

describe("edgeMarkers", () => {
  it("names each edge from Patient Orientation", () => {
    expect(edgeMarkers(PA)).toEqual({ left: "R", right: "L", top: "H", bottom: "F" });
    expect(edgeMarkers(["A", "FR"])).toEqual({ left: "P", right: "A", top: "HL", bottom: "FR" });
    expect(edgeMarkers(null)).toBeNull();
    expect(edgeMarkers(["L"])).toBeNull();
  });
});
