// The report's rules as the server sends them (the assignment's `rules` and `questions`), applied before
// anything is sent so that the reader sees a message at once, offline too. The server applies the same rules
// again (readerstudy/reading/reads.py); its messages are the same words.

export const isOnScale = (question, value) =>
  Number.isInteger(value) && value >= question.scale_min && value <= question.scale_max;

// The boxes to untick when `changed` is ticked: an exclusive label (CheXpert's No Finding) stands beside its
// allowed labels only, in both directions. `exclusive`: [{label, allowed_with}] from the server.
export function conflictsWith(changed, checked, exclusive) {
  const conflicts = new Set();
  for (const { label, allowed_with: allowed } of exclusive) {
    const beside = new Set([label, ...allowed]);
    if (changed === label) {
      for (const slug of checked) if (!beside.has(slug)) conflicts.add(slug);
    } else if (!beside.has(changed) && checked.includes(label)) {
      conflicts.add(label);
    }
  }
  conflicts.delete(changed);
  return [...conflicts];
}

// {field: message} for a final read: a flagged case needs its reason only; a read needs findings, report
// text and the required ratings, each on its scale. `answers`: {question key: number or undefined}.
export function validateReport(report, answers, { questions, exclusive, names }) {
  if (report.problem_flagged) {
    return report.problem_reason.trim() ? {} : { problem_reason: "Say what is wrong with this case." };
  }
  const errors = {};
  if (!report.findings.length) {
    const normal = exclusive.map(({ label }) => `, or “${names[label] || label}”`).join("");
    errors.findings = `Choose at least one finding${normal}.`;
  }
  if (!report.report_findings.trim() && !report.report_impression.trim()) {
    errors.report_findings = "Write the report: findings, impression or both.";
  }
  const notApplicable = new Set(report.not_applicable || []);
  for (const q of questions) {
    if (notApplicable.has(q.key)) continue; // N/A answers the question
    const value = answers[q.key];
    if (value === undefined) {
      if (q.required) errors[`ratings.${q.key}`] = "Answer this question.";
    } else if (!isOnScale(q, value)) {
      errors[`ratings.${q.key}`] = `Choose a whole number from ${q.scale_min} to ${q.scale_max}.`;
    }
  }
  return errors;
}
