// The AI panel: what the server sent for this arm (labels; or reasoning steps, labels and the structured
// report), and the reader's error annotations on it. Offsets are code points into a turn's raw text, as
// the server counts them, so the selection maps to the exact stored characters. The error categories are the
// server's (the assignment's rules).
import { el } from "./dom.js";

const codePoints = (text) => Array.from(text);
const normalised = (text) => text.toLowerCase().replace(/\s+/g, " ").trim();
const placeKey = (place) => `${place.target}:${place.step ?? ""}:${place.label ?? ""}:${place.turn ?? ""}:${place.start ?? ""}`;
const escaped = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

// The code-point offset of `name` as a word in `text` (any case, a plural too), or -1.
export function findWord(text, name) {
  const match = new RegExp(`\\b${escaped(name)}s?\\b`, "i").exec(text);
  return match ? codePoints(text.slice(0, match.index)).length : -1;
}

// The vocabulary's labels (slugs) that `text` names.
export function mentionedLabels(text, vocabulary) {
  return vocabulary.filter((label) => findWord(text, label.name) >= 0).map((label) => label.slug);
}

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
  constructor(section, { vocabulary, categories, onAnnotationWrite, onAnnotationAdded, onStepPointed = () => {} }) {
    this.section = section;
    this.vocabulary = vocabulary;
    this.categories = categories;
    this.categoryNames = Object.fromEntries(categories.map((c) => [c.value, c.name]));
    this.labelNames = Object.fromEntries(vocabulary.map((l) => [l.slug, l.name]));
    this.onAnnotationWrite = onAnnotationWrite;
    this.onAnnotationAdded = onAnnotationAdded;
    this.onStepPointed = onStepPointed;
    this.annotations = new Map();
    section.hidden = false;
    section.setAttribute("data-testid", "ai-panel");
    section.replaceChildren(el("h2", {}, "AI output"),
      el("p", { class: "ai-placeholder" }, "The AI output appears when the image has loaded."));
    this.editor = this.buildEditor();
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
    missed.addEventListener("click", () => this.openFrom(missed, { target: "output", category: "missed_finding" }, missed.parentElement));
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
      flag.addEventListener("click", () => this.openFrom(flag, { target: "step", step: step.index }, node));
      const words = text.slice(step.start, step.end).join("");
      const node = el("div", { class: "step", "data-step": step.index, tabindex: "0", "data-region": step.region },
        el("span", { class: "region" }, step.region_name),
        el("p", { class: "step-text annotatable", "data-turn": reasoning.turn, "data-start": step.start,
          "data-text": words }), flag);
      // Pointing at a step (hover or focus) outlines its region on the image.
      const point = () => this.onStepPointed({ region: step.region, text: words });
      const unpoint = () => this.onStepPointed(null);
      node.addEventListener("mouseenter", point);
      node.addEventListener("mouseleave", unpoint);
      node.addEventListener("focusin", point);
      node.addEventListener("focusout", unpoint);
      return node;
    });
    return el("div", { class: "trace", "data-testid": "trace" }, ...steps);
  }

  labelsElement(labels) {
    if (!labels.length) return el("p", { class: "muted", "data-testid": "ai-labels" }, "The AI reported no findings.");
    const items = labels.map((label) => {
      const button = el("button", { type: "button", class: "ai-label", "data-label": label.slug,
        title: "Record an error about this label" }, label.name);
      // No category is chosen for the reader: a default would steer the choice (a digit key chooses).
      button.addEventListener("click", () => this.openFrom(button, { target: "label", label: label.slug }, button.closest("ul")));
      return el("li", {}, button);
    });
    return el("ul", { class: "ai-labels", "data-testid": "ai-labels" }, ...items);
  }

  // Re-render highlighted text and the list after any change.
  // Every place an annotation marks: its own target and the repeats linked to it, with the annotation's id.
  places() {
    return [...this.annotations.values()].flatMap((a) => [a, ...(a.repeats || [])].map((place) => ({ ...place, id: a.id })));
  }

  refresh() {
    const places = this.places();
    for (const node of this.section.querySelectorAll(".annotatable")) this.renderHighlights(node, places);
    for (const button of this.section.querySelectorAll(".ai-label")) {
      button.classList.toggle("annotated", places.some((p) => p.target === "label" && p.label === button.dataset.label));
    }
    for (const step of this.section.querySelectorAll(".step")) {
      step.classList.toggle("annotated", places.some((p) => p.target === "step" && p.step === Number(step.dataset.step)));
    }
    this.list.replaceChildren(...[...this.annotations.values()].map((a) => this.listItem(a)));
    if (!this.annotations.size) this.list.append(el("li", { class: "muted" }, "None yet. Select text, click a label, or use the buttons."));
  }

  renderHighlights(node, places) {
    const text = codePoints(node.dataset.text);
    const base = Number(node.dataset.start);
    const turn = Number(node.dataset.turn);
    const spans = places.filter((a) => a.target === "text" && a.turn === turn)
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
    edit.addEventListener("click", () => this.openFrom(edit, a, edit.closest("li"), true));
    return el("li", { "data-annotation": a.id },
      el("strong", {}, this.categoryNames[a.category] || a.category), ` on ${what}`,
      a.label && a.target !== "label" ? ` (${this.labelNames[a.label] || a.label})` : "",
      a.clinically_significant ? el("span", { class: "significant" }, " · clinically significant") : "",
      a.repeats && a.repeats.length ? el("span", { class: "muted" }, ` · also marked in ${a.repeats.length} other place${a.repeats.length > 1 ? "s" : ""}`) : "",
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
    return { target: "text", turn: Number(node.dataset.turn), start, end: start + codePoints(quote).length, quote,
      rect: range.getBoundingClientRect(), node };
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
    const { rect, node, ...draft } = target;
    this.selectionButton.hidden = true;
    this.openFrom(null, draft, node.closest(".step, .ai-report-fold") || node);
  }

  // The editor, opened by `opener` (focus returns there when it closes).
  openFrom(opener, draft, anchor, editing = false) {
    this.editorOpenedFrom = opener;
    this.openEditor(draft, anchor, editing);
  }

  // --- the error editor: inline in the AI pane, so the image stays in view; its keys are its own ---------------

  buildEditor() {
    const categories = [el("option", { value: "" }, `— choose (1–${this.categories.length}) —`),
      ...this.categories.map(({ value, name }, i) => el("option", { value }, `${i + 1}. ${name}`))];
    const labels = [el("option", { value: "" }, "— none —"), ...this.vocabulary.map((l) => el("option", { value: l.slug }, l.name))];
    const editor = el("div", { class: "annotation-editor", "data-testid": "annotation-editor", "data-keys": "own",
      tabindex: "-1", role: "group", "aria-label": "Record an error in the AI output", hidden: true },
      el("p", { class: "editor-title" }, el("strong", {}, "Record an error: "), el("span", { class: "quote" })),
      el("p", { class: "editor-keys" }, `Keys: 1–${this.categories.length} category · Y / N clinically significant · Enter save · Esc cancel`),
      el("label", {}, "Category", el("select", { name: "category", "data-testid": "annotation-category" }, ...categories)),
      el("fieldset", { class: "inline-radios" }, el("legend", {}, "Clinically significant?"),
        el("label", {}, el("input", { type: "radio", name: "significant", value: "yes", "data-testid": "annotation-significant-yes" }), " Yes (Y)"),
        el("label", {}, el("input", { type: "radio", name: "significant", value: "no", "data-testid": "annotation-significant-no" }), " No (N)")),
      el("label", {}, el("span", { class: "label-caption" }, "Label it concerns"),
        el("select", { name: "label", "data-testid": "annotation-label" }, ...labels)),
      el("div", { class: "repeats", "data-testid": "annotation-repeats" }),
      el("label", {}, "Comment (optional)", el("textarea", { name: "comment", rows: 2 })),
      el("p", { class: "field-error dialog-error", role: "alert" }),
      el("div", { class: "dialog-buttons" },
        el("button", { type: "button", class: "primary", value: "save", "data-testid": "annotation-save" }, "Save (Enter)"),
        el("button", { type: "button", value: "delete", class: "danger", "data-testid": "annotation-delete" }, "Delete"),
        el("button", { type: "button", value: "cancel" }, "Cancel (Esc)")));
    editor.addEventListener("click", (event) => {
      const action = event.target.value;
      if (action === "save") this.saveEditor();
      else if (action === "delete") this.deleteEditing();
      else if (action === "cancel") this.closeEditor();
    });
    editor.addEventListener("keydown", (event) => this.onEditorKey(event));
    editor.addEventListener("change", (event) => {
      if (event.target.name === "label" || event.target.name === "category") this.showLabelRule();
      if (event.target.name === "label") this.showRepeats();
    });
    return editor;
  }

  field(name) {
    return this.editor.querySelector(`[name=${name}]`);
  }

  // Digits choose the category, Y and N the significance, Enter saves and Esc cancels; in the comment, keys
  // type (Ctrl+Enter saves from there).
  onEditorKey(event) {
    const typing = event.target.tagName === "TEXTAREA";
    const plain = !event.ctrlKey && !event.metaKey && !event.altKey;
    const key = event.key.toLowerCase();
    let handled = true;
    if (key === "escape") this.closeEditor();
    else if (key === "enter" && (!typing || !plain)) this.saveEditor();
    else if (!typing && plain && /^[1-9]$/.test(key) && this.categories[Number(key) - 1]) {
      this.field("category").value = this.categories[Number(key) - 1].value;
      this.showLabelRule();
    } else if (!typing && plain && (key === "y" || key === "n")) {
      this.editor.querySelector(`[name=significant][value=${key === "y" ? "yes" : "no"}]`).checked = true;
    } else handled = false;
    if (handled) {
      event.preventDefault();
      event.stopPropagation();
    }
  }

  // `anchor`: the element the editor opens below (the step, the labels, the text, the list entry).
  openEditor(draft, anchor, editing = false) {
    this.editing = editing ? draft.id : null;
    this.draft = draft;
    this.field("category").value = draft.category || "";
    for (const radio of this.editor.querySelectorAll("[name=significant]")) {
      radio.checked = editing && (radio.value === "yes") === draft.clinically_significant;
    }
    this.field("label").value = editing ? draft.label || "" : draft.label || this.suggestedLabel(draft) || "";
    this.field("label").disabled = draft.target === "label";
    this.field("comment").value = draft.comment || "";
    this.editor.querySelector(".quote").textContent = this.describe(draft);
    this.editor.querySelector("[value=delete]").hidden = !editing;
    this.editor.querySelector(".dialog-error").textContent = "";
    this.linked = new Set((draft.repeats || []).map(placeKey));
    this.showRepeats(editing);
    this.showLabelRule();
    (anchor && anchor.isConnected ? anchor : this.list).after(this.editor);
    this.editor.hidden = false;
    this.editor.scrollIntoView({ block: "nearest" });
    this.editor.focus();
  }

  closeEditor() {
    const was = this.editorOpenedFrom;
    this.editor.hidden = true;
    this.draft = null;
    if (was && was.isConnected) was.focus();
  }

  describe(draft) {
    return draft.target === "text" ? `“${draft.quote}”` : draft.target === "label" ? `AI label ${this.labelNames[draft.label] || draft.label}`
      : draft.target === "step" ? `reasoning step ${draft.step + 1}` : "the AI output as a whole (a missed finding)";
  }

  // The label the pointed-at words name: the one label of the vocabulary they mention (an AI label first),
  // else, for a selection inside a step, the one its step mentions.
  suggestedLabel(draft) {
    const given = new Set((this.content.labels || []).map((l) => l.slug));
    const pick = (text) => {
      const named = mentionedLabels(text, this.vocabulary);
      const fromAI = named.filter((slug) => given.has(slug));
      if (fromAI.length === 1) return fromAI[0];
      return named.length === 1 ? named[0] : null;
    };
    if (draft.target === "step") return pick(this.stepText(draft.step));
    if (draft.target !== "text") return null;
    const step = this.stepAt(draft.turn, draft.start);
    return pick(draft.quote) || (step !== null ? pick(this.stepText(step)) : null);
  }

  stepText(index) {
    const step = this.content.reasoning.steps[index];
    return codePoints(this.content.reasoning.text).slice(step.start, step.end).join("");
  }

  stepAt(turn, offset) {
    const reasoning = this.content.reasoning;
    if (!reasoning || turn !== reasoning.turn) return null;
    const step = reasoning.steps.find((s) => s.start <= offset && offset < s.end);
    return step ? step.index : null;
  }

  // Required where the audit counts the error by its label (the server's rule, sent with the categories).
  showLabelRule() {
    const category = this.categories.find((c) => c.value === this.field("category").value);
    const needed = Boolean(category && category.needs_label);
    this.editor.querySelector(".label-caption").textContent = needed ? "Label it concerns (required)" : "Label it concerns";
    this.field("label").required = needed;
  }

  // Where else the output says what the label names: offered as the same error, ticked, so it is marked once.
  showRepeats(editing = false) {
    const box = this.editor.querySelector(".repeats");
    const places = this.repeatPlaces(this.draft, this.field("label").value);
    if (!editing) for (const place of places) this.linked.add(placeKey(place));
    for (const place of this.draft.repeats || []) {
      if (!places.some((p) => placeKey(p) === placeKey(place))) places.push(place);
    }
    this.offered = places;
    if (!places.length) {
      box.replaceChildren();
      return;
    }
    box.replaceChildren(el("p", { class: "muted" }, "The same error is said again here. Ticked places are marked with it, as one error:"),
      ...places.map((place, i) => {
        const tick = el("input", { type: "checkbox", "data-repeat": String(i), "data-testid": `annotation-repeat-${i}` });
        tick.checked = this.linked.has(placeKey(place));
        tick.addEventListener("change", () => {
          if (tick.checked) this.linked.add(placeKey(place));
          else this.linked.delete(placeKey(place));
        });
        return el("label", { class: "check" }, tick, ` ${this.describe(place)}`);
      }));
  }

  repeatPlaces(draft, slug) {
    if (!slug) return [];
    const name = this.labelNames[slug];
    const places = [];
    const own = draft.target === "step" ? draft.step : draft.target === "text" ? this.stepAt(draft.turn, draft.start) : null;
    if (draft.target !== "label" && (this.content.labels || []).some((l) => l.slug === slug)) places.push({ target: "label", label: slug });
    const reasoning = this.content.reasoning;
    if (!reasoning) return places;
    for (const step of reasoning.steps) {
      if (step.index !== own && mentionedLabels(this.stepText(step.index), this.vocabulary).includes(slug)) {
        places.push({ target: "step", step: step.index });
      }
    }
    const report = this.content.report;
    const at = report ? findWord(report.text, name) : -1;
    if (at >= 0 && !(draft.target === "text" && draft.turn === report.turn)) {
      const length = codePoints(name).length;
      places.push({ target: "text", turn: report.turn, start: at, end: at + length,
        quote: codePoints(report.text).slice(at, at + length).join("") });
    }
    return places;
  }

  saveEditor() {
    const significant = [...this.editor.querySelectorAll("[name=significant]")].find((r) => r.checked);
    const error = this.editor.querySelector(".dialog-error");
    const category = this.field("category").value;
    const label = this.draft.target === "label" ? this.draft.label : this.field("label").value || null;
    const missing = !category ? "Choose the category (a digit key)." : !significant ? "Say whether the error is clinically significant (Y or N)."
      : this.field("label").required && !label ? "Choose the label this error concerns: the error audit counts it by its label." : "";
    if (missing) {
      error.textContent = missing;
      return;
    }
    const repeats = (this.offered || []).filter((place) => this.linked.has(placeKey(place)))
      .map(({ quote, ...place }) => place);
    const fields = { category, clinically_significant: significant.value === "yes", label, comment: this.field("comment").value, repeats };
    if (this.editing) {
      const annotation = { ...this.annotations.get(this.editing), ...fields, repeats: this.withQuotes(repeats) };
      this.annotations.set(annotation.id, annotation);
      this.onAnnotationWrite("PATCH", annotation.id, fields);
    } else {
      const annotation = { turn: null, start: null, end: null, step: null, quote: "", ...this.draft, ...fields, id: crypto.randomUUID() };
      const { quote, ...body } = annotation;
      annotation.repeats = this.withQuotes(repeats);
      this.annotations.set(annotation.id, annotation);
      this.onAnnotationWrite("POST", annotation.id, body);
      this.onAnnotationAdded(annotation);
    }
    document.getSelection().removeAllRanges();
    this.offered = [];
    this.closeEditor();
    this.refresh();
  }

  withQuotes(repeats) {
    return repeats.map((place) => (place.target === "text"
      ? { ...place, quote: codePoints(this.content.report.text).slice(place.start, place.end).join("") } : place));
  }

  deleteEditing() {
    this.annotations.delete(this.editing);
    this.onAnnotationWrite("DELETE", this.editing);
    this.closeEditor();
    this.refresh();
  }
}
