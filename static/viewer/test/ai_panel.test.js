// The structured report starts folded when it mostly restates the reasoning, so that the reader of the full
// reasoning arm is not asked to read the same sentences twice.
import { describe, expect, it } from "vitest";

import { repeatsReasoning } from "../src/ai_panel.js";

const REASONING = `<think>
Image quality is adequate: a frontal projection with good inspiration, adequate penetration and no significant rotation.

The trachea is midline and the central airways are patent.

The right lung shows patchy airspace opacity in the right lower zone, in keeping with pneumonia in the appropriate clinical setting.

The left lung is clear, with normal vascular markings and no focal opacity.

The heart is normal in size, cardiothoracic ratio under 0.5.

In summary, right lower zone pneumonia.
</think>
<answer> Pneumonia </answer>`;

describe("repeatsReasoning", () => {
  it("finds a report made of the reasoning's own sentences under headings", () => {
    const report = [
      "EXAMINATION: Chest radiograph, single frontal view.",
      "TECHNIQUE: Image quality is adequate: a frontal projection with good inspiration, adequate penetration and no significant rotation.",
      "FINDINGS:",
      "Lungs: The trachea is midline and the central airways are patent. The right lung shows patchy airspace opacity in the right lower zone, in keeping with pneumonia in the appropriate clinical setting. The left lung is clear, with normal vascular markings and no focal opacity.",
      "Heart and mediastinum: The heart is normal in size, cardiothoracic ratio under 0.5.",
      "IMPRESSION:",
      "1. Right lower zone pneumonia.",
    ].join("\n");
    expect(repeatsReasoning(report, REASONING)).toBe(true);
  });

  it("keeps a report in its own words unfolded", () => {
    const report = "FINDINGS: Right lower zone airspace consolidation with air bronchograms and a small effusion.\n"
      + "The heart size is within normal limits and the left lung remains entirely clear.\n"
      + "IMPRESSION: Right lower lobe pneumonia; suggest a follow-up radiograph after treatment.";
    expect(repeatsReasoning(report, REASONING)).toBe(false);
    expect(repeatsReasoning("", REASONING)).toBe(false);
  });
});
