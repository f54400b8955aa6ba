"""Readers enrolled in bulk from a CSV, each with a one-time link to set their password."""

import csv
import io
from dataclasses import dataclass

from django.contrib.auth.models import Group, User
from django.contrib.auth.tokens import default_token_generator
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from readerstudy.core.errors import Refused
from readerstudy.core.roles import READER
from readerstudy.models import ReaderProfile

COLUMNS = ["username", "name", "email", "years_experience", "subspecialty"]
MAX_ROWS = 2000


class EnrolmentRefused(Refused):
    """Nothing was created; `problems` holds one message per offending line."""


@dataclass
class NewReader:
    user: User
    set_password_path: str


def set_password_path(user):
    """A link that sets the password once: the token stops working when the password changes."""
    return reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )


def enrol_readers(data: bytes):
    """Create every reader in the CSV, or none; returns [NewReader]."""
    rows = _rows(data)
    problems, people, seen = [], [], set()
    existing = set(
        User.objects.filter(username__in=[r.get("username", "") for _, r in rows]).values_list("username", flat=True)
    )
    for line, row in rows:
        person, errors = _person(row, existing, seen)
        problems += [f"line {line}: {error}" for error in errors]
        people.append(person)
    if problems:
        raise EnrolmentRefused(problems)
    readers = Group.objects.get(name=READER)
    created = []
    with transaction.atomic():
        for person in people:
            user = User(
                username=person["username"],
                first_name=person["first_name"],
                last_name=person["last_name"],
                email=person["email"],
            )
            user.set_unusable_password()
            user.save()
            user.groups.add(readers)
            ReaderProfile.objects.create(
                user=user, years_experience=person["years_experience"], subspecialty=person["subspecialty"]
            )
            created.append(NewReader(user, set_password_path(user)))
    return created


def _rows(data):
    try:
        text = data.decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    except (UnicodeDecodeError, csv.Error) as error:
        raise EnrolmentRefused([f"the file is not a UTF-8 CSV: {error}"]) from None
    header = [name.strip().lower() for name in (rows[0].keys() if rows else [])]
    missing = [column for column in COLUMNS if column not in header]
    if not rows:
        raise EnrolmentRefused(["the file has no readers (a header line and one line per reader)"])
    if missing:
        raise EnrolmentRefused([f"line 1: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}"])
    if len(rows) > MAX_ROWS:
        raise EnrolmentRefused([f"at most {MAX_ROWS} readers per file"])
    cleaned = [{(k or "").strip().lower(): (v or "").strip() for k, v in row.items()} for row in rows]
    return list(enumerate(cleaned, start=2))


def _person(row, existing, seen):
    errors = []
    username = row["username"]
    try:
        UnicodeUsernameValidator()(username)
        if not username:
            raise ValidationError("empty")
    except ValidationError:
        errors.append(f"username {username!r} is not valid (letters, digits and @.+-_ only)")
    if username in existing:
        errors.append(f"username {username!r} already exists")
    elif username in seen:
        errors.append(f"username {username!r} appears twice in the file")
    seen.add(username)
    if row["email"]:
        try:
            validate_email(row["email"])
        except ValidationError:
            errors.append(f"e-mail {row['email']!r} is not valid")
    years = row["years_experience"]
    if years and not (years.isdigit() and int(years) <= 70):
        errors.append(f"years_experience {years!r} is not a whole number of years")
    first, _, last = row["name"].partition(" ")
    return {
        "username": username,
        "first_name": first[:150],
        "last_name": last[:150],
        "email": row["email"],
        "years_experience": int(years) if years.isdigit() else None,
        "subspecialty": row["subspecialty"][:100],
    }, errors
