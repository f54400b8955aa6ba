"""Admins enrol readers from a CSV (all or nothing), hand over one-time set-password links, and deactivate."""

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from readerstudy.core.roles import has_role
from tests.factories import UserFactory
from tests.login import logs_in

pytestmark = pytest.mark.django_db

GOOD = (
    "username,name,email,years_experience,subspecialty\n"
    "ahmed,Ahmed Khan,ahmed@example.org,12,Thoracic\n"
    "bea,Bea Lund,,3,\n"
)


def upload(client, text):
    return client.post(reverse("people-import"), {"csv": SimpleUploadedFile("readers.csv", text.encode())})


def test_a_csv_creates_readers_with_profiles_and_one_time_links(client, admin_user):
    client.force_login(admin_user)
    response = upload(client, GOOD)
    assert response.status_code == 200
    ahmed = User.objects.get(username="ahmed")
    assert (ahmed.first_name, ahmed.last_name, ahmed.email, ahmed.has_usable_password()) == (
        "Ahmed",
        "Khan",
        "ahmed@example.org",
        False,
    )
    assert has_role(ahmed, "reader") and not has_role(ahmed, "coordinator")
    assert (ahmed.reader_profile.years_experience, ahmed.reader_profile.subspecialty) == (12, "Thoracic")
    assert User.objects.get(username="bea").reader_profile.years_experience == 3
    links = response.context["created"]
    assert [user.username for user, _ in links] == ["ahmed", "bea"]

    link = links[0][1]
    client.logout()
    form = client.get(link, follow=True)
    assert form.status_code == 200 and form.context["validlink"]
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": "a long new secret 42", "new_password2": "a long new secret 42"}
    )
    assert done.status_code == 302
    assert logs_in(client, "ahmed", "a long new secret 42")
    client.logout()
    assert client.get(link, follow=True).context["validlink"] is False


def test_errors_are_reported_by_line_and_nothing_is_created(client, admin_user):
    UserFactory(username="taken")
    client.force_login(admin_user)
    text = (
        "username,name,email,years_experience,subspecialty\n"
        "ok1,Fine Person,fine@example.org,5,\n"
        "taken,Someone,,1,\n"
        "bad name!,X,not-an-email,many,\n"
        "ok1,Again,,2,\n"
    )
    response = upload(client, text)
    assert response.status_code == 400
    assert response.context["problems"] == [
        "line 3: username 'taken' already exists",
        "line 4: username 'bad name!' is not valid (letters, digits and @.+-_ only)",
        "line 4: e-mail 'not-an-email' is not valid",
        "line 4: years_experience 'many' is not a whole number of years",
        "line 5: username 'ok1' appears twice in the file",
    ]
    assert not User.objects.filter(username="ok1").exists()


@pytest.mark.parametrize(
    "text,problem",
    [
        (
            "user,name\nx,y\n",
            "line 1: missing column(s) username, email, years_experience, subspecialty; expected "
            "username, name, email, years_experience, subspecialty",
        ),
        (
            "username,name,email,years_experience,subspecialty\n",
            "the file has no readers (a header line and one line per reader)",
        ),
    ],
)
def test_a_malformed_file_gets_one_clear_message(client, admin_user, text, problem):
    client.force_login(admin_user)
    assert upload(client, text).context["problems"] == [problem]


def test_a_deactivated_reader_cannot_log_in_and_keeps_everything(client, admin_user):
    reader = UserFactory(username="leaving", roles=["reader"])
    client.force_login(admin_user)
    client.post(reverse("people-set-active", args=[reader.pk]), {"active": "0"})
    reader.refresh_from_db()
    assert reader.is_active is False and User.objects.filter(pk=reader.pk).exists()
    client.logout()
    assert not logs_in(client, "leaving", "correct horse battery")


@pytest.mark.parametrize("role,status", [("reader", 403), ("coordinator", 403), ("admin", 200)])
def test_the_readers_page_is_for_admins(client, role, status):
    client.force_login(UserFactory(roles=[role]))
    assert client.get(reverse("people")).status_code == status
    assert upload(client, GOOD).status_code in ((403,) if status == 403 else (200,))
