// The reader's report: findings checkboxes, free text, the arm's rating questions and the problem flag.
// The server's rules (sent with the assignment, applied in report_rules.js) give messages before anything is
// sent; how each question is answered (points or a number) is the server's choice too.
import { el } from "./dom.js";
import { conflictsWith, isOnScale, validateReport } from "./report_rules.js";

const isTyped = (q) => q.input === "number";

export class ReportForm {
  // `onCommit`: a sequential read's first report is committed (the form starts in its first phase).
  constructor(form, { labels, questions, rules, onChange, onSubmit, onCommit = null }) {
    this.form = form;
    this.labels = labels;
    this.questions = questions;
    this.exclusive = rules.exclusive_labels;
    this.imageNote = el("p", { class: "image-note", role: "status", "data-testid": "image-note", hidden: true });
    // The report is about the image: its fields open when the image is shown. The problem flag (and Submit,
    // for a flagged case) never wait, so a case whose image fails can still be reported as such.
    this.reportParts = [this.findingsFieldset(), this.textFields(), ...(questions.length ? [this.ratingsFieldset()] : [])];
    this.phaseNote = el("p", { class: "phase-note", role: "status", "data-testid": "phase-note", hidden: true });
    form.replaceChildren(this.phaseNote, this.imageNote, ...this.reportParts, this.problemFieldset(), this.submitBar());
    this.firstPhase = false;
    form.addEventListener("input", () => onChange());
    form.addEventListener("change", (event) => {
      if (event.target.name === "finding") this.enforceExclusive(event.target);
      this.showProblemReason();
      onChange();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.confirmBar.hidden = true;
      if (this.firstPhase) onCommit();
      else onSubmit();
    });
    // A submitted read is final, so Enter in a field never submits (browsers submit a form on Enter in an
    // input); Submit is clicked, or asked for with Ctrl+Enter and confirmed.
    form.addEventListener("keydown", (event) => {
      const field = event.target;
      if (event.key === "Enter" && !event.ctrlKey && !event.metaKey && field.tagName === "INPUT") event.preventDefault();
    });
  }

  // A sequential read in two phases. First: findings and the questions asked before the AI, committed without
  // the AI; the report text and the AI's questions wait. Second: everything, to revise and submit.
  setPhase(phase) {
    this.firstPhase = phase === "first";
    const later = new Set(this.questions.filter((q) => !q.before_ai).map((q) => q.key));
    for (const part of [this.form.querySelector(".report-text"), ...[...this.form.querySelectorAll(".rating")]
      .filter((row) => later.has(row.dataset.key))]) {
      part.hidden = this.firstPhase;
    }
    this.phaseNote.hidden = false;
    this.phaseNote.textContent = this.firstPhase
      ? "First read, without the AI: choose your findings and answer the questions, then commit. The AI output is shown after, and you may revise."
      : "Your first read is committed. Revise your findings if the AI changes your mind, write the report, and submit.";
    const submit = this.form.querySelector("button.submit");
    submit.textContent = this.firstPhase ? "Commit first read" : "Submit read";
    submit.dataset.testid = this.firstPhase ? "commit-first-read" : "submit-read";
    this.confirmBar.querySelector("[data-testid=confirm-submit]").textContent = this.firstPhase ? "Commit (Enter)" : "Submit (Enter)";
    this.confirmBar.querySelector("span").textContent = this.firstPhase
      ? "Commit your first read? It cannot be changed; the AI output is shown next. "
      : "Submit this read? A submitted read is final. ";
  }

  // The first report: findings and the answers to the questions asked before the AI.
  firstRead() {
    const value = this.value();
    const before = new Set(this.questions.filter((q) => q.before_ai).map((q) => q.key));
    const ratings = Object.fromEntries(Object.entries(value.ratings).filter(([key]) => before.has(key)));
    return { findings: value.findings, ratings };
  }

  // The rules of a final read, for the first read's fields only.
  validateFirst() {
    const before = new Set(this.questions.filter((q) => q.before_ai).map((q) => `ratings.${q.key}`));
    const errors = this.validate(true);
    return Object.fromEntries(Object.entries(errors).filter(([field]) => field === "findings" || before.has(field)));
  }

  submitBar() {
    const confirm = el("button", { type: "submit", class: "primary", "data-testid": "confirm-submit" }, "Submit (Enter)");
    const cancel = el("button", { type: "button", "data-testid": "cancel-submit" }, "Keep reading (Esc)");
    cancel.addEventListener("click", () => this.cancelSubmit());
    this.confirmBar = el("div", { class: "submit-confirm", role: "alertdialog", "aria-label": "Submit this read?",
      hidden: true, "data-keys": "own" }, el("span", {}, "Submit this read? A submitted read is final. "), confirm, " ", cancel);
    this.confirmBar.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.cancelSubmit();
    });
    return el("div", { class: "submit-bar" },
      el("p", { class: "form-error", id: "form-error", role: "alert" }),
      this.confirmBar,
      el("button", { type: "submit", class: "primary submit", "data-testid": "submit-read" }, "Submit read"));
  }

  // The keyboard's way to submit: a question first, answered with Enter (submit) or Esc (go on reading).
  askToSubmit() {
    if (this.locked || this.form.querySelector("button.submit").disabled) return;
    this.returnFocus = document.activeElement;
    this.confirmBar.hidden = false;
    this.confirmBar.querySelector("[data-testid=confirm-submit]").focus();
  }

  cancelSubmit() {
    this.confirmBar.hidden = true;
    if (this.returnFocus && this.returnFocus.isConnected) this.returnFocus.focus();
  }

  // The exclusive labels (No Finding) first: the choice that stands alone is made before the others.
  findingsFieldset() {
    const first = new Set(this.exclusive.map((rule) => rule.label));
    const ordered = [...this.labels.filter((l) => first.has(l.slug)), ...this.labels.filter((l) => !first.has(l.slug))];
    const boxes = ordered.map((label) => el("label", { class: "check" },
      el("input", { type: "checkbox", name: "finding", value: label.slug, "data-testid": `finding-${label.slug}` }),
      ` ${label.name}`));
    this.findingsNotice = el("p", { class: "findings-notice", role: "status", "data-testid": "findings-notice" });
    return el("fieldset", { class: "findings" }, el("legend", {}, "Findings"), el("div", { class: "checks" }, ...boxes),
      this.findingsNotice, el("p", { class: "field-error", "data-field": "findings" }));
  }

  textFields() {
    return el("div", { class: "report-text" },
      el("label", {}, "Report: findings",
        el("textarea", { name: "report_findings", rows: 4, "data-testid": "report-text" })),
      el("p", { class: "field-error", "data-field": "report_findings" }),
      el("label", {}, "Impression",
        el("textarea", { name: "report_impression", rows: 2, "data-testid": "report-impression" })),
      el("p", { class: "field-error", "data-field": "report_impression" }));
  }

  ratingsFieldset() {
    const rows = this.questions.map((q) => el("div", { class: "rating", "data-testid": `rating-${q.key}`, "data-key": q.key },
      el("p", { class: "question" }, q.text, q.required ? "" : el("span", { class: "optional" }, " (optional)")),
      el("div", { class: "scale" }, el("span", { class: "anchor" }, q.min_anchor), ...this.scaleInputs(q),
        el("span", { class: "anchor" }, q.max_anchor)),
      el("p", { class: "field-error", "data-field": `ratings.${q.key}` })));
    return el("fieldset", { class: "ratings" }, el("legend", {}, "Ratings"), ...rows);
  }

  // A short scale is a row of radio buttons; a long one (the 0–100 probability of abnormality) a number field.
  // A question the study lets a reader call not applicable (nothing to hedge) also offers N/A.
  scaleInputs(q) {
    if (isTyped(q)) {
      const number = el("input", { type: "number", name: `rating-${q.key}`, min: String(q.scale_min), max: String(q.scale_max),
        step: "1", inputmode: "numeric", class: "scale-number", "data-testid": `rating-${q.key}-number` });
      if (!q.allows_not_applicable) return [number];
      const na = el("input", { type: "checkbox", name: `rating-${q.key}-na`, "data-testid": `rating-${q.key}-na` });
      na.addEventListener("change", () => { number.disabled = na.checked; });
      return [number, el("label", { class: "scale-point na" }, na, el("span", {}, "N/A"))];
    }
    const options = [];
    for (let value = q.scale_min; value <= q.scale_max; value += 1) {
      options.push(el("label", { class: "scale-point" },
        el("input", { type: "radio", name: `rating-${q.key}`, value: String(value) }), el("span", {}, String(value))));
    }
    if (q.allows_not_applicable) {
      options.push(el("label", { class: "scale-point na" }, el("input", { type: "radio", name: `rating-${q.key}`, value: "na",
        "data-testid": `rating-${q.key}-na` }), el("span", {}, "N/A")));
    }
    return options;
  }

  isNotApplicable(q) {
    if (!q.allows_not_applicable) return false;
    const selector = isTyped(q) ? `input[name="rating-${q.key}-na"]:checked` : `input[name="rating-${q.key}"][value=na]:checked`;
    return Boolean(this.form.querySelector(selector));
  }

  problemFieldset() {
    return el("fieldset", { class: "problem" },
      el("label", { class: "check" }, el("input", { type: "checkbox", name: "problem_flagged", "data-testid": "problem-flag" }),
        " Problem with this case (non-diagnostic image, technical fault)"),
      el("label", { class: "problem-reason", hidden: true }, "What is wrong?",
        el("textarea", { name: "problem_reason", rows: 2, "data-testid": "problem-reason" })),
      el("p", { class: "field-error", "data-field": "problem_reason" }));
  }

  // An exclusive label (No Finding) unticks what it cannot stand beside, and is unticked by it.
  // Never silently: the reader is told which boxes were unticked, and why.
  enforceExclusive(changed) {
    this.findingsNotice.textContent = "";
    if (!changed.checked) return;
    const boxes = [...this.form.querySelectorAll("input[name=finding]")];
    const checked = boxes.filter((box) => box.checked).map((box) => box.value);
    const conflicts = new Set(conflictsWith(changed.value, checked, this.exclusive));
    if (!conflicts.size) return;
    for (const box of boxes) if (conflicts.has(box.value)) box.checked = false;
    const names = Object.fromEntries(this.labels.map((label) => [label.slug, label.name]));
    const unticked = [...conflicts].map((slug) => names[slug]).join(", ");
    const they = conflicts.size > 1 ? "they" : "it";
    this.findingsNotice.textContent = `Unticked ${unticked}: ${they} cannot be combined with “${names[changed.value]}”.`;
  }

  showProblemReason() {
    this.form.querySelector(".problem-reason").hidden = !this.form.elements.problem_flagged.checked;
  }

  value() {
    const f = this.form.elements;
    const ratings = {};
    const notApplicable = this.questions.filter((q) => this.isNotApplicable(q)).map((q) => q.key);
    for (const q of this.questions) {
      const value = this.typedRating(q);
      // A number still being typed (or out of range) is left out of the draft; validate() names it.
      if (value !== undefined && isOnScale(q, value)) ratings[q.key] = value;
    }
    return {
      findings: [...this.form.querySelectorAll("input[name=finding]:checked")].map((box) => box.value),
      report_findings: f.report_findings.value,
      report_impression: f.report_impression.value,
      ratings,
      not_applicable: notApplicable,
      problem_flagged: f.problem_flagged.checked,
      problem_reason: f.problem_flagged.checked ? f.problem_reason.value : "",
    };
  }

  // The number the reader chose or typed for `q`, or undefined.
  typedRating(q) {
    if (this.isNotApplicable(q)) return undefined;
    const input = isTyped(q)
      ? this.form.querySelector(`input[name="rating-${q.key}"]`)
      : this.form.querySelector(`input[name="rating-${q.key}"]:checked`);
    return input && input.value.trim() !== "" ? Number(input.value) : undefined;
  }

  setValue(report) {
    const f = this.form.elements;
    for (const box of this.form.querySelectorAll("input[name=finding]")) box.checked = report.findings.includes(box.value);
    f.report_findings.value = report.report_findings || "";
    f.report_impression.value = report.report_impression || "";
    for (const [key, value] of Object.entries(report.ratings || {})) {
      const number = this.form.querySelector(`input[type=number][name="rating-${key}"]`);
      if (number) number.value = String(value);
      const radio = this.form.querySelector(`input[name="rating-${key}"][value="${value}"]`);
      if (radio) radio.checked = true;
    }
    for (const key of report.not_applicable || []) {
      const na = this.form.querySelector(`input[name="rating-${key}"][value=na], input[name="rating-${key}-na"]`);
      if (na) na.checked = true;
      const number = this.form.querySelector(`input[type=number][name="rating-${key}"]`);
      if (number) number.disabled = true;
    }
    f.problem_flagged.checked = Boolean(report.problem_flagged);
    f.problem_reason.value = report.problem_reason || "";
    this.showProblemReason();
  }

  // The server's rules for a final read; returns {field: message}.
  // `ignoreFlag`: as if no problem were flagged (a first read is about the findings).
  validate(ignoreFlag = false) {
    const answers = Object.fromEntries(this.questions.map((q) => [q.key, this.typedRating(q)]));
    const names = Object.fromEntries(this.labels.map((label) => [label.slug, label.name]));
    const report = ignoreFlag ? { ...this.value(), problem_flagged: false } : this.value();
    return validateReport(report, answers, { questions: this.questions, exclusive: this.exclusive, names });
  }

  showErrors(errors, summary = "") {
    for (const node of this.form.querySelectorAll(".field-error")) node.textContent = errors[node.dataset.field] || "";
    const count = Object.keys(errors).length;
    this.form.querySelector("#form-error").textContent = summary || (count ? "Please correct the marked fields." : "");
    const first = this.form.querySelector(".field-error:not(:empty)");
    if (first) first.scrollIntoView({ block: "nearest" });
  }

  // Until the image is shown, the report's fields are closed with `reason`; null opens them.
  awaitImage(reason) {
    for (const part of this.reportParts) part.inert = Boolean(reason);
    this.imageNote.hidden = !reason;
    this.imageNote.textContent = reason || "";
  }

  // Locked: nothing can be changed or submitted (the saved draft is not in the form yet), with the reason.
  lock(reason) {
    this.locked = true;
    this.form.inert = true;
    this.form.querySelector("#form-error").textContent = reason;
  }

  unlock() {
    this.locked = false;
    this.form.inert = false;
    this.form.querySelector("#form-error").textContent = "";
  }

  setBusy(busy, label) {
    const button = this.form.querySelector("button.submit");
    button.disabled = busy;
    button.textContent = label || (this.firstPhase ? "Commit first read" : "Submit read");
  }
}

