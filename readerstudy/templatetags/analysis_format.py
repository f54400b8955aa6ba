"""Formatting the analysis's numbers for people: a missing number is a dash, never "None" or "nan"."""

from django import template

from readerstudy.models import Arm

register = template.Library()
DASH = "–"


@register.filter
def arm_label(value):
    return Arm(value).label if value in Arm.values else value


@register.filter
def num(value, digits=2):
    return DASH if value is None else f"{value:.{int(digits)}f}"


@register.filter
def percent(value):
    return DASH if value is None else f"{value * 100:.0f}%"


@register.filter
def pvalue(value):
    if value is None:
        return DASH
    return "<0.001" if value < 0.001 else f"{value:.3f}"


@register.filter
def get(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def sci(value):
    """Variance components are small: four significant digits."""
    return DASH if value is None else f"{value:.4g}"


@register.filter
def is_log(scale):
    return scale == "log"


@register.filter
def is_interaction(role):
    return role == "interaction"


FOM_HEADINGS = {"log": "Geometric mean s", "mean": "Mean", "proportion": "Proportion", "auc": "AUC"}


@register.filter
def fom_heading(endpoint):
    if endpoint["role"] == "interaction":
        return "Abnormal ÷ normal (geometric means)" if endpoint["scale"] == "log" else "Abnormal − normal"
    return FOM_HEADINGS[endpoint["scale"]]


@register.filter
def endpoint(endpoints, kind_key):
    """The endpoint `kind:key` of a list of MRMC endpoints (None if the analysis has none such)."""
    kind, _, key = kind_key.partition(":")
    return next((e for e in endpoints or [] if e["kind"] == kind and e["key"] == (key or kind)), None)


@register.filter
def label_measures(label):
    return [("Sensitivity", label["sensitivity"]), ("Specificity", label["specificity"])]


@register.filter
def primary_endpoint(endpoints):
    return next((e for e in endpoints or [] if e.get("role") == "primary"), None)


VARIANCE_NAMES = {
    "reader": "reader",
    "case": "case",
    "reader_arm": "reader × arm",
    "case_arm": "case × arm",
    "residual": "residual",
}


@register.filter
def variance_name(name):
    return VARIANCE_NAMES.get(name, name)
