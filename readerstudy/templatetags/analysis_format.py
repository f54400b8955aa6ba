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
