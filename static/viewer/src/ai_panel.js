// The AI panel: what the server sent for this arm (labels; or reasoning steps, labels and the structured
// report), and the reader's error annotations on it. Offsets are code points into a turn's raw text, as
// the server counts them, so the selection maps to the exact stored characters. The error categories are the
// server's (the assignment's rules).
import { el } from "./dom.js";

const codePoints = (text) => Array.from(text);
const normalised = (text) => text.toLowerCase().replace(/\s+/g, " ").trim();

// Whether the structured report mostly restates the reasoning (the model's report is often its review's
// sentences regrouped under headings): then it starts folded, so the reader is not asked to read it twice.
export function repeatsReasoning(report, reasoning) {
  const said = normalised(reasoning);
  const sentences = report.split(/(?<=[.!?])\s+|\n+/)
    .map((line) => normalised(line.replace(/^[A-Z][A-Za-z /]*:\s*/, "").replace(/^\d+\.\s*/, "")))
    .filter((sentence) => sentence.split(" ").length >= 4);
  const repeated = sentences.filter((sentence) => said.includes(sentence.replace(/[.!?]$/, ""))).length;
  return sentences.length > 0 && repeated * 2 >= sentences.length;
}

export class AIPanel {
  constructor(section, { vocabulary, categories, onAnnotationWrite, onAnnotationAdded }) {
    this.section = section;
    this.vocabulary = vocabulary;
    this.categories = categories;
    this.categoryNames = Object.fromEntries(categories.map((c) => [c.value, c.name]));
    this.labelNames = Object.fromEntries(vocabulary.map((l) => [l.slug, l.name]));
    this.onAnnotationWrite = onAnnotationWrite;
    this.onAnnotationAdded = onAnnotationAdded;
    this.annotations = new Map();
    section.hidden = false;
    section.setAttribute("data-testid", "ai-panel");
    section.replaceChildren(el("h2", {}, "AI output"),
      el("p", { class: "ai-placeholder" }, "The AI output appears when the image has loaded."));
    this.dialog = this.buildDialog();
    document.body.append(this.dialog);
    this.selectionButton = el("button", { type: "button", class: "annotate-selection", hidden: true,
      "data-testid": "annotate-selection" }, "Record error in selection");
    this.selectionButton.addEventListener("mousedown", (event) => event.preventDefault());
    this.selectionButton.addEventListener("click", () => this.annotateSelection());
    document.body.append(this.selectionButton);
    document.addEventListener("selectionchange", () => this.placeSelectionButton());
  }

  // Instead of the output: why it is not shown (yet), and a button to try again if `retry` is given.
  showMessage(text, retry = null) {
    const message = el("p", { class: "ai-placeholder", "data-testid": "ai-message", role: "status" }, text);
    if (retry) {
      const again = el("button", { type: "button", "data-testid": "ai-retry" }, "Try again");
      again.addEventListener("click", retry);
      message.append(" ", again);
    }
    this.section.replaceChildren(el("h2", {}, "AI output"), message);
  }

  show(content, annotations) {
    this.content = content;
    for (const a of annotations) this.annotations.set(a.id, a);
    const parts = [el("h2", {}, "AI output")];
    if (content.reasoning) {
      parts.push(el("h3", {}, "Reasoning"), this.traceElement(content.reasoning));
    }
    parts.push(el("h3", {}, "AI findings"), this.labelsElement(content.labels));
    if (content.reasoning) parts.push(...this.reportElements(content.report, content.reasoning));
    const missed = el("button", { type: "button", "data-testid": "annotate-missed" }, "Record a missed finding…");
    missed.addEventListener("click", () => this.openDialog({ target: "output", category: "missed_finding" }));
    this.list = el("ul", { class: "annotations", "data-testid": "annotations" });
    parts.push(el("div", { class: "annotation-actions" }, missed),
      el("h3", {}, "Errors you recorded"), this.list);
    this.section.replaceChildren(...parts);
    this.refresh();
  }

  reportElements(report, reasoning) {
    if (!report) {
      return [el("h3", {}, "Structured report"),
        el("p", { class: "muted", "data-testid": "ai-report" }, "The model gave no structured report for this case.")];
    }
    const body = el("div", { class: "ai-report annotatable", "data-testid": "ai-report", "data-turn": report.turn,
      "data-start": 0, "data-text": report.text });
    if (!repeatsReasoning(report.text, reasoning.text)) return [el("h3", {}, "Structured report"), body];
    return [el("details", { class: "ai-report-fold", "data-testid": "ai-report-fold" },
      el("summary", {}, "Structured report — mostly repeats the reasoning above"), body)];
  }

  traceElement(reasoning) {
    const text = codePoints(reasoning.text);
    const steps = reasoning.steps.map((step) => {
      const flag = el("button", { type: "button", class: "flag-step", title: "Record an error in this step" }, "Flag");
      flag.addEventListener("click", () => this.openDialog({ target: "step", step: step.index, category: "faulty_reasoning" }));
      return el("div", { class: "step", "data-step": step.index },
        el("span", { class: "region" }, step.region_name),
        el("p", { class: "step-text annotatable", "data-turn": reasoning.turn, "data-start": step.start,
          "data-text": text.slice(step.start, step.end).join("") }), flag);
    });
    return el("div", { class: "trace", "data-testid": "trace" }, ...steps);
  }

  labelsElement(labels) {
    if (!labels.length) return el("p", { class: "muted", "data-testid": "ai-labels" }, "The AI reported no findings.");
    const items = labels.map((label) => {
      const button = el("button", { type: "button", class: "ai-label", "data-label": label.slug,
        title: "Record an error about this label" }, label.name);
      button.addEventListener("click", () => this.openDialog({ target: "label", label: label.slug, category: "false_finding" }));
      return el("li", {}, button);
    });
    return el("ul", { class: "ai-labels", "data-testid": "ai-labels" }, ...items);
  }

  // Re-render highlighted text and the list after any change.
  refresh() {
    for (const node of this.section.querySelectorAll(".annotatable")) this.renderHighlights(node);
    for (const button of this.section.querySelectorAll(".ai-label")) {
      button.classList.toggle("annotated", [...this.annotations.values()].some((a) => a.target === "label" && a.label === button.dataset.label));
    }
    for (const step of this.section.querySelectorAll(".step")) {
      step.classList.toggle("annotated", [...this.annotations.values()].some((a) => a.target === "step" && a.step === Number(step.dataset.step)));
    }
    this.list.replaceChildren(...[...this.annotations.values()].map((a) => this.listItem(a)));
    if (!this.annotations.size) this.list.append(el("li", { class: "muted" }, "None yet. Select text, click a label, or use the buttons."));
  }

  renderHighlights(node) {
    const text = codePoints(node.dataset.text);
    const base = Number(node.dataset.start);
    const turn = Number(node.dataset.turn);
    const spans = [...this.annotations.values()].filter((a) => a.target === "text" && a.turn === turn)
      .map((a) => [Math.max(a.start - base, 0), Math.min(a.end - base, text.length), a.id])
      .filter(([s, e]) => s < e);
    const cuts = [...new Set([0, text.length, ...spans.flatMap(([s, e]) => [s, e])])].sort((a, b) => a - b);
    const pieces = [];
    for (let i = 0; i < cuts.length - 1; i += 1) {
      const piece = text.slice(cuts[i], cuts[i + 1]).join("");
      const covering = spans.find(([s, e]) => s <= cuts[i] && cuts[i + 1] <= e);
      pieces.push(covering ? el("mark", { "data-annotation": covering[2] }, piece) : piece);
    }
    node.replaceChildren(...pieces);
  }

  listItem(a) {
    const what = a.target === "text" ? `“${a.quote}”` : a.target === "label" ? `label ${this.labelNames[a.label] || a.label}`
      : a.target === "step" ? `step ${a.step + 1}` : "the output as a whole";
    const edit = el("button", { type: "button", class: "link" }, "Edit");
    edit.addEventListener("click", () => this.openDialog(a, true));
    return el("li", { "data-annotation": a.id },
      el("strong", {}, this.categoryNames[a.category] || a.category), ` on ${what}`,
      a.label && a.target !== "label" ? ` (${this.labelNames[a.label] || a.label})` : "",
      a.clinically_significant ? el("span", { class: "significant" }, " · clinically significant") : "",
      a.comment ? el("span", { class: "muted" }, ` · ${a.comment}`) : "", " ", edit);
  }

  // The selection, if it lies inside one piece of AI text, as code-point offsets into its turn.
  selectionTarget() {
    const selection = document.getSelection();
    if (!selection || selection.isCollapsed || !selection.rangeCount) return null;
    const range = selection.getRangeAt(0);
    const host = (node) => (node.nodeType === 1 ? node : node.parentElement)?.closest(".annotatable");
    const node = host(range.startContainer);
    if (!node || node !== host(range.endContainer) || !this.section.contains(node)) return null;
    const before = document.createRange();
    before.setStart(node, 0);
    before.setEnd(range.startContainer, range.startOffset);
    const start = Number(node.dataset.start) + codePoints(before.toString()).length;
    const quote = range.toString();
    if (!quote.trim()) return null;
    return { target: "text", turn: Number(node.dataset.turn), start, end: start + codePoints(quote).length, quote, rect: range.getBoundingClientRect() };
  }

  placeSelectionButton() {
    const target = this.content && this.selectionTarget();
    this.selectionButton.hidden = !target;
    if (target) {
      this.selectionButton.style.top = `${window.scrollY + target.rect.bottom + 4}px`;
      this.selectionButton.style.left = `${window.scrollX + target.rect.left}px`;
    }
  }

  annotateSelection() {
    const target = this.selectionTarget();
    if (!target) return;
    delete target.rect;
    this.selectionButton.hidden = true;
    this.openDialog({ ...target, category: "false_finding" });
  }

  buildDialog() {
    const categories = this.categories.map(({ value, name }) => el("option", { value }, name));
    const labels = [el("option", { value: "" }, "— none —"), ...this.vocabulary.map((l) => el("option", { value: l.slug }, l.name))];
    const dialog = el("dialog", { class: "annotation-dialog", "data-testid": "annotation-dialog" },
      el("form", { method: "dialog" },
        el("h2", {}, "Record an error in the AI output"),
        el("p", { class: "quote" }),
        el("label", {}, "Category", el("select", { name: "category", "data-testid": "annotation-category" }, ...categories)),
        el("fieldset", { class: "inline-radios" }, el("legend", {}, "Clinically significant?"),
          el("label", {}, el("input", { type: "radio", name: "significant", value: "yes", "data-testid": "annotation-significant-yes" }), " Yes"),
          el("label", {}, el("input", { type: "radio", name: "significant", value: "no", "data-testid": "annotation-significant-no" }), " No")),
        el("label", {}, "Label it concerns", el("select", { name: "label", "data-testid": "annotation-label" }, ...labels)),
        el("label", {}, "Comment (optional)", el("textarea", { name: "comment", rows: 2 })),
        el("p", { class: "field-error dialog-error" }),
        el("div", { class: "dialog-buttons" },
          el("button", { type: "button", class: "primary", value: "save", "data-testid": "annotation-save" }, "Save"),
          el("button", { type: "button", value: "delete", class: "danger", "data-testid": "annotation-delete" }, "Delete"),
          el("button", { type: "button", value: "cancel" }, "Cancel"))));
    dialog.addEventListener("click", (event) => {
      const action = event.target.value;
      if (action === "save") this.saveDialog();
      else if (action === "delete") this.deleteEditing();
      else if (action === "cancel") dialog.close();
    });
    return dialog;
  }

  openDialog(draft, editing = false) {
    this.editing = editing ? draft.id : null;
    this.draft = draft;
    const form = this.dialog.querySelector("form");
    form.elements.category.value = draft.category;
    for (const radio of form.elements.significant) {
      radio.checked = editing && (radio.value === "yes") === draft.clinically_significant;
    }
    form.elements.label.value = draft.label || "";
    form.elements.label.disabled = draft.target === "label";
    form.elements.comment.value = draft.comment || "";
    this.dialog.querySelector(".quote").textContent = draft.target === "text" ? `“${draft.quote}”`
      : draft.target === "label" ? `AI label: ${this.labelNames[draft.label] || draft.label}`
        : draft.target === "step" ? `Reasoning step ${draft.step + 1}` : "The AI output as a whole";
    this.dialog.querySelector("[value=delete]").hidden = !editing;
    this.dialog.querySelector(".dialog-error").textContent = "";
    this.dialog.showModal();
  }

  saveDialog() {
    const form = this.dialog.querySelector("form");
    const significant = [...form.elements.significant].find((r) => r.checked);
    if (!significant) {
      this.dialog.querySelector(".dialog-error").textContent = "Say whether the error is clinically significant.";
      return;
    }
    const fields = {
      category: form.elements.category.value,
      clinically_significant: significant.value === "yes",
      label: form.elements.label.value || null,
      comment: form.elements.comment.value,
    };
    if (this.editing) {
      const annotation = { ...this.annotations.get(this.editing), ...fields };
      this.annotations.set(annotation.id, annotation);
      this.onAnnotationWrite("PATCH", annotation.id, fields);
    } else {
      const annotation = { turn: null, start: null, end: null, step: null, quote: "", ...this.draft, ...fields, id: crypto.randomUUID() };
      if (annotation.target === "label") annotation.label = this.draft.label;
      this.annotations.set(annotation.id, annotation);
      const { quote, ...body } = annotation;
      this.onAnnotationWrite("POST", annotation.id, body);
      this.onAnnotationAdded(annotation);
    }
    document.getSelection().removeAllRanges();
    this.dialog.close();
    this.refresh();
  }

  deleteEditing() {
    this.annotations.delete(this.editing);
    this.onAnnotationWrite("DELETE", this.editing);
    this.dialog.close();
    this.refresh();
  }
}
