// The report form's rules, as the server sends them: the vocabulary's exclusive labels (CheXpert's No Finding,
// or none), how each question is answered, and the messages a final read gets before anything is sent.
import { beforeEach, describe, expect, it, vi } from "vitest";

import { ReportForm } from "../src/report_form.js";
import { conflictsWith, validateReport } from "../src/report_rules.js";

const CHEXPERT_RULE = [{ label: "no-finding", allowed_with: ["support-devices"] }];
const CHEXPERT = [["edema", "Edema"], ["no-finding", "No Finding"], ["pneumonia", "Pneumonia"],
  ["support-devices", "Support Devices"]].map(([slug, name]) => ({ slug, name }));
const CUSTOM = [{ slug: "nodule", name: "Nodule" }, { slug: "normal-heart", name: "Normal heart" }];
const QUESTIONS = [
  { key: "confidence", text: "Confidence?", scale_min: 1, scale_max: 5, min_anchor: "low", max_anchor: "high",
    required: true, input: "points" },
  { key: "abnormality", text: "Probability abnormal?", scale_min: 0, scale_max: 100, min_anchor: "0",
    max_anchor: "100", required: false, input: "number" },
];
const COMPLETE = { findings: ["edema"], report_findings: "Edema.", report_impression: "", ratings: {},
  not_applicable: [], problem_flagged: false, problem_reason: "" };
// "Was the uncertainty expressed appropriate?" has nothing to judge on a case with nothing to hedge: N/A.
const WITH_NA = QUESTIONS.map((q) => ({ ...q, allows_not_applicable: true, required: true }));

describe("conflictsWith", () => {
  it("lets No Finding stand beside Support Devices alone, in both directions", () => {
    expect(conflictsWith("no-finding", ["edema", "support-devices", "no-finding"], CHEXPERT_RULE)).toEqual(["edema"]);
    expect(conflictsWith("pneumonia", ["no-finding", "pneumonia"], CHEXPERT_RULE)).toEqual(["no-finding"]);
    expect(conflictsWith("support-devices", ["no-finding", "support-devices"], CHEXPERT_RULE)).toEqual([]);
  });

  it("finds no conflict in a vocabulary without an exclusive label", () => {
    expect(conflictsWith("nodule", ["nodule", "normal-heart"], [])).toEqual([]);
  });
});

describe("validateReport", () => {
  const context = (exclusive, labels) => ({
    questions: QUESTIONS, exclusive, names: Object.fromEntries(labels.map((l) => [l.slug, l.name])),
  });

  it("names every missing or wrong field of a final read, as the server does", () => {
    const report = { ...COMPLETE, findings: [], report_findings: " " };
    expect(validateReport(report, { confidence: undefined, abnormality: 140 }, context(CHEXPERT_RULE, CHEXPERT))).toEqual({
      findings: "Choose at least one finding, or “No Finding”.",
      report_findings: "Write the report: findings, impression or both.",
      "ratings.confidence": "Answer this question.",
      "ratings.abnormality": "Choose a whole number from 0 to 100.",
    });
    expect(validateReport(report, { confidence: 3 }, context([], CUSTOM)).findings).toBe("Choose at least one finding.");
  });

  it("asks a flagged case for its reason only", () => {
    const flagged = { ...COMPLETE, findings: [], problem_flagged: true, problem_reason: "" };
    expect(validateReport(flagged, {}, context([], CUSTOM))).toEqual({ problem_reason: "Say what is wrong with this case." });
    expect(validateReport({ ...flagged, problem_reason: "Blank film." }, {}, context([], CUSTOM))).toEqual({});
  });

  it("counts N/A as the answer of a question that allows it", () => {
    const report = { ...COMPLETE, not_applicable: ["confidence", "abnormality"] };
    expect(validateReport(report, {}, { ...context([], CUSTOM), questions: WITH_NA })).toEqual({});
  });

  it("accepts a complete read with an optional question left out", () => {
    expect(validateReport(COMPLETE, { confidence: 4, abnormality: undefined }, context(CHEXPERT_RULE, CHEXPERT))).toEqual({});
  });
});

describe("ReportForm", () => {
  let node;
  beforeEach(() => {
    document.body.innerHTML = '<form id="report-form"></form>';
    node = document.getElementById("report-form");
    Element.prototype.scrollIntoView = vi.fn(); // jsdom lays nothing out
  });

  const form = (labels, exclusive) => new ReportForm(node, {
    labels, questions: QUESTIONS, rules: { exclusive_labels: exclusive, error_categories: [] },
    onChange: () => {}, onSubmit: () => {},
  });
  const tick = (slug) => {
    const box = node.querySelector(`[data-testid=finding-${slug}]`);
    box.checked = true;
    box.dispatchEvent(new Event("change", { bubbles: true }));
  };
  const ticked = () => [...node.querySelectorAll("input[name=finding]:checked")].map((box) => box.value);

  it("unticks what No Finding cannot stand beside", () => {
    const report = form(CHEXPERT, CHEXPERT_RULE);
    tick("edema");
    tick("support-devices");
    tick("no-finding");
    expect(ticked()).toEqual(["no-finding", "support-devices"]);
    tick("pneumonia");
    expect(ticked()).toEqual(["pneumonia", "support-devices"]);
    expect(report.value().findings).toEqual(["pneumonia", "support-devices"]);
  });

  it("keeps any combination of a custom vocabulary's labels", () => {
    const report = form(CUSTOM, []);
    tick("nodule");
    tick("normal-heart");
    expect(report.value().findings).toEqual(["nodule", "normal-heart"]);
  });

  it("asks a points question with radio buttons and a number question with a number field", () => {
    const report = form(CUSTOM, []);
    expect(node.querySelectorAll("input[type=radio][name=rating-confidence]")).toHaveLength(5);
    expect(node.querySelector("[data-testid=rating-abnormality-number]").type).toBe("number");
    node.querySelector("input[name=rating-confidence][value='4']").checked = true;
    node.querySelector("[data-testid=rating-abnormality-number]").value = "35";
    tick("nodule");
    node.querySelector("[data-testid=report-text]").value = "A nodule.";
    expect(report.validate()).toEqual({});
    expect(report.value().ratings).toEqual({ confidence: 4, abnormality: 35 });
  });

  it("restores a draft and shows the server's messages beside their fields", () => {
    const report = form(CHEXPERT, CHEXPERT_RULE);
    report.setValue({ ...COMPLETE, findings: ["pneumonia"], ratings: { confidence: 2, abnormality: 80 } });
    expect(report.value()).toEqual({ ...COMPLETE, findings: ["pneumonia"], ratings: { confidence: 2, abnormality: 80 } });
    report.showErrors({ findings: "“No Finding” cannot be combined with other findings except Support Devices." });
    const findings = node.querySelector("[data-field=findings]");
    expect(findings.textContent).toBe("“No Finding” cannot be combined with other findings except Support Devices.");
    expect(node.querySelector("#form-error").textContent).toBe("Please correct the marked fields.");
    expect(Element.prototype.scrollIntoView.mock.contexts).toEqual([findings]);
  });

  it("offers N/A where the question allows it, sends it and restores it", () => {
    const report = new ReportForm(node, { labels: CUSTOM, questions: WITH_NA, rules: { exclusive_labels: [], error_categories: [] },
      onChange: () => {}, onSubmit: () => {} });
    expect(node.querySelectorAll("input[type=radio][name=rating-confidence]")).toHaveLength(6);
    node.querySelector("[data-testid=rating-confidence-na]").checked = true;
    const na = node.querySelector("[data-testid=rating-abnormality-na]");
    na.checked = true;
    na.dispatchEvent(new Event("change"));
    expect(node.querySelector("[data-testid=rating-abnormality-number]").disabled).toBe(true);
    tick("nodule");
    node.querySelector("[data-testid=report-text]").value = "A nodule.";
    expect(report.validate()).toEqual({});
    expect([report.value().ratings, report.value().not_applicable]).toEqual([{}, ["confidence", "abnormality"]]);
    const again = new ReportForm(node, { labels: CUSTOM, questions: WITH_NA, rules: { exclusive_labels: [], error_categories: [] },
      onChange: () => {}, onSubmit: () => {} });
    again.setValue({ ...COMPLETE, not_applicable: ["confidence"], ratings: { abnormality: 20 } });
    expect([again.value().ratings, again.value().not_applicable]).toEqual([{ abnormality: 20 }, ["confidence"]]);
    expect(form(CUSTOM, []) && node.querySelector("[data-testid=rating-confidence-na]")).toBeNull();
  });

  it("closes the report's fields until the image is shown, but never the problem flag", () => {
    const report = form(CUSTOM, []);
    report.awaitImage("The report opens when the image is shown.");
    expect([node.querySelector("fieldset.findings").inert, Boolean(node.querySelector("fieldset.problem").inert),
      node.querySelector("[data-testid=image-note]").textContent]).toEqual([true, false, "The report opens when the image is shown."]);
    report.awaitImage(null);
    expect([node.querySelector("fieldset.findings").inert, node.querySelector("[data-testid=image-note]").hidden]).toEqual([false, true]);
  });

  it("tells the reader which boxes No Finding unticked", () => {
    form(CHEXPERT, CHEXPERT_RULE);
    expect(node.querySelector("input[name=finding]").value).toBe("no-finding");
    tick("edema");
    tick("pneumonia");
    tick("no-finding");
    expect(node.querySelector("[data-testid=findings-notice]").textContent)
      .toBe("Unticked Edema, Pneumonia: they cannot be combined with “No Finding”.");
  });

  it("locks while the saved draft is not in the form", () => {
    const report = form(CUSTOM, []);
    report.lock("Loading your saved draft…");
    expect([node.inert, report.locked, node.querySelector("#form-error").textContent])
      .toEqual([true, true, "Loading your saved draft…"]);
    report.unlock();
    expect([node.inert, report.locked]).toEqual([false, false]);
  });
});
