"""Who may do what, and on whose study: every route × role × own or another team's object.

The routes come from the URL configuration and the Django admin's registry, so a new route or a new model
admin cannot escape: a route missing from EXPECTED fails, a route under a study answers 404 to another team's
coordinator or fails, and a model admin whose rows belong to a study shows them to that study's team and
admins only or fails. Each request runs in a transaction rolled back after it, so every cell of the matrix
meets the same world.
"""

import uuid
from collections import deque
from dataclasses import dataclass

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.urls import get_resolver, reverse
from django.urls.resolvers import URLPattern, URLResolver

from inference.models import InferenceRun
from readerstudy.models import AnalysisPlot, Arm, Study, StudyAnalysis
from readerstudy.reading.annotations import create_annotation
from readerstudy.reading.reads import record_events
from readerstudy.reading.sequential import FirstReport, commit_first_read
from readerstudy.studies.team import add_to_team
from tests.factories import StudyFactory, UserFactory
from tests.reading_setup import open_study_with_assignments

pytestmark = pytest.mark.django_db

# In every title of team B's studies: nothing team A's coordinator or reader receives may hold it.
SECRET = "zebrasecretteamb"
ROLES = ("anonymous", "roleless", "reader", "coordinator", "admin")
LOGIN = "to the login page"
PUBLIC = {"login", "logout", "password_reset_confirm", "set-password-done"}


def page(**statuses):
    """A page behind the login: anonymous visitors go to log in, users without a role are refused."""
    return {"anonymous": LOGIN, "roleless": 403, "reader": 403, "coordinator": 403, "admin": 403, **statuses}


def study_page(status, admin_status=None):
    """A page of one study: the study's team and admins (another team: 404, derived below)."""
    return page(coordinator=status, admin=status if admin_status is None else admin_status)


def reading_api(status):
    """The reading API: for readers, on their own assignments (another reader's: 404, derived below)."""
    return {"anonymous": 401, "roleless": 403, "reader": status, "coordinator": 403, "admin": 403}


# What each role gets on its own object (its team's study, its own assignment), per route and method.
EXPECTED = {
    "healthz GET": dict.fromkeys(ROLES, 200),  # public: no login, for the orchestrator
    "readyz GET": dict.fromkeys(ROLES, 200),
    "home GET": page(roleless=200, reader=200, coordinator=200, admin=200),
    "people GET": page(admin=200),
    "people-import POST": page(admin=400),  # no file chosen
    "people-set-active POST": page(admin=302),
    "import-cases GET": page(admin=200),
    "worklist GET": page(reader=200),
    "workstation GET": page(reader=200),
    "session-complete GET": page(reader=200),
    "study-detail GET": study_page(200),
    "study-open POST": study_page(302),  # refused with a message: already open
    "study-close POST": study_page(302),
    "study-add-readers POST": study_page(302),  # refused with a message: nobody chosen
    "study-assign-case-set POST": study_page(403, admin_status=400),  # admins only; nothing chosen
    "study-team-add POST": study_page(400),  # nobody chosen
    "study-team-remove POST": study_page(302),
    "study-open-session POST": study_page(302),
    "study-export GET": study_page(200),
    "study-analysis GET": study_page(200),
    "study-analysis-json GET": study_page(409),  # not computed yet
    "study-analysis-report GET": study_page(302),  # not computed yet: back to the page, saying so
    "study-analysis-plot GET": study_page(200),
    "study-analysis-recompute POST": study_page(302),
    "api-schema GET": {**reading_api(200), "coordinator": 200, "admin": 200},
    "api-assignments GET": reading_api(200),
    "api-assignment GET": reading_api(200),
    "api-ai GET": reading_api(200),
    "api-events POST": reading_api(400),  # an empty batch
    "api-draft GET": reading_api(200),
    "api-draft PUT": reading_api(200),  # an empty draft
    "api-submit POST": reading_api(400),
    "api-unaided POST": reading_api(400),  # no submission id
    "api-annotations GET": reading_api(200),
    "api-annotations POST": reading_api(400),
    "api-annotation PATCH": reading_api(200),
    "api-annotation DELETE": reading_api(204),
    "api-image GET": reading_api(200),
    "inference:runs GET": page(coordinator=200, admin=200),
    "inference:run GET": page(coordinator=200, admin=200),
    "inference:run-progress GET": page(coordinator=200, admin=200),
    "inference:run-retry POST": page(coordinator=302, admin=302),
    "inference:run-pin POST": page(coordinator=302, admin=302),  # no study chosen: back, saying so
    "inference:run-metrics-json GET": page(coordinator=200, admin=200),
    "inference:run-metrics-csv GET": page(coordinator=200, admin=200),
}


@dataclass
class Side:
    """One team's study and what hangs from it."""

    study: Study
    reader: object
    coordinator: object
    peer: object  # a second coordinator on the team, whom the remove route takes off
    assignment: object
    annotation: object


@dataclass
class World:
    users: dict
    own: Side  # team A: the coordinator's and the reader's
    other: Side  # team B: SECRET in its studies' titles
    run: InferenceRun
    plot: str


def make_side(case_set, title, by):
    reader, coordinator, peer = (UserFactory(roles=[role]) for role in ("reader", "coordinator", "coordinator"))
    study, assignments = open_study_with_assignments(case_set, reader, free_order=True, sequential_reading=True)
    Study.objects.filter(pk=study.pk).update(title=title)
    study.refresh_from_db()
    draft = StudyFactory(title=f"{title}, draft", case_set=case_set)  # a choice of the pin form
    for member in (coordinator, peer):
        for each in (study, draft):
            add_to_team(each, member, by)
    assignment = assignments[Arm.FULL_REASONING]
    record_events(
        assignment,
        [
            {
                "uuid": str(uuid.uuid4()),
                "page_load_id": str(uuid.uuid4()),
                "type": "image_rendered",
                "client_ms": 1.0,
                "payload": {},
            }
        ],
    )
    # A sequential read's first report, committed before the AI output may be annotated.
    commit_first_read(assignment, uuid.uuid4(), FirstReport(["pneumonia"], {"confidence": 3}))
    annotation, _ = create_annotation(
        assignment,
        {
            "id": uuid.uuid4(),
            "target": "output",
            "label": "pneumonia",
            "category": "false_finding",
            "clinically_significant": True,
            "comment": "",
            "turn": None,
            "start": None,
            "end": None,
            "step": None,
        },
    )
    analysis = StudyAnalysis.objects.create(study=study)
    AnalysisPlot.objects.create(
        analysis=analysis,
        name="reading-time",
        title="Reading time",
        svg='<svg xmlns="http://www.w3.org/2000/svg"/>',
        png=b"\x89PNG",
    )
    return Side(study, reader, coordinator, peer, assignment, annotation)


@pytest.fixture
def world(demo_case_set):
    admin_user = UserFactory(roles=["admin"])
    own = make_side(demo_case_set, "Team A study", admin_user)
    other = make_side(demo_case_set, f"{SECRET} study", admin_user)
    users = {
        "anonymous": None,
        "roleless": UserFactory(),
        "admin": admin_user,
        "reader": own.reader,
        "coordinator": own.coordinator,
    }
    return World(users, own, other, InferenceRun.objects.order_by("pk").first(), "reading-time")


def named_routes():
    """(name, route text, converters) of every named route outside the Django admin."""

    def walk(patterns, prefix="", namespace=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.app_name != "admin":
                    yield from walk(
                        pattern.url_patterns,
                        prefix + str(pattern.pattern),
                        namespace + (f"{pattern.namespace}:" if pattern.namespace else ""),
                    )
            elif isinstance(pattern, URLPattern) and pattern.name:
                yield namespace + pattern.name, prefix + str(pattern.pattern), dict(pattern.pattern.converters)

    return list(walk(get_resolver().url_patterns))


# How to fill each route argument: (value, whether it picks one team's or one reader's object).
def argument(world, name, route, key, side):
    study_route = route.startswith("studies/")
    values = {
        "pk": lambda: (side.study.pk, True) if study_route else (world.own.reader.pk, False),
        "session_id": lambda: (side.assignment.session_id, True),
        "user_id": lambda: (side.peer.pk, True),
        "public_id": lambda: (side.assignment.public_id, True),
        "annotation_id": lambda: (side.annotation.client_uuid, True),
        "position": lambda: (1, False),
        "run_id": lambda: (world.run.pk, False),
        "name": lambda: ("reads" if name == "study-export" else world.plot, False),
        "fmt": lambda: ("csv" if name == "study-export" else "svg", False),
    }
    if key not in values:
        pytest.fail(f"{name}: the access matrix does not know how to fill its argument {key!r}; teach it")
    return values[key]()


def methods_of(client, world, name, path):
    """The methods a route answers: a view class's handlers, or what a function view allows."""
    from django.urls import resolve

    view_class = getattr(resolve(path).func, "cls", None)
    if view_class is not None:
        return [m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(view_class, m)]
    client.force_login(world.users["admin"])
    response = client.get(path)
    if response.status_code == 405:
        return [m.strip() for m in response["Allow"].split(",")]
    return ["GET"]


def request(client, user, method, path):
    """One request in a transaction rolled back after it: the next cell meets the same world."""
    client.logout()
    if user is not None:
        client.force_login(user)
    with transaction.atomic():
        if path.startswith("/api/") and method != "GET":
            response = client.generic(method, path, "{}", content_type="application/json")
        else:
            response = client.generic(method, path)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        transaction.set_rollback(True)
    return response, body


def outcome(response):
    status = response.status_code
    if status == 302 and response["Location"].startswith(reverse("login")):
        return LOGIN
    return status


def on_another_teams(role, own):
    """What a role gets on the object of another team (another reader's assignment): for those who reach
    their own, the answer for an object that does not exist; admins run every study."""
    if role in ("reader", "coordinator") and own not in (LOGIN, 403, 405):
        return 404
    return own


def test_every_route_answers_each_role_on_its_own_and_on_another_teams_objects(client, world):
    routes = [(name, route, converters) for name, route, converters in named_routes() if name not in PUBLIC]
    assert {
        "study-detail",
        "study-export",
        "study-analysis-plot",
        "api-submit",
        "inference:run-pin",
        "study-team-add",
        "study-team-remove",
    } <= {name for name, _, _ in routes}
    seen, wrong = set(), []
    for name, route, converters in routes:
        filled = {
            label: {key: argument(world, name, route, key, side) for key in converters}
            for label, side in (("own", world.own), ("other", world.other))
        }
        sides = {
            label: reverse(name, kwargs={key: value for key, (value, _) in arguments.items()})
            for label, arguments in filled.items()
        }
        scoped = any(picks for _, picks in filled["own"].values())
        if route.startswith("studies/"):
            assert scoped, f"{name}: a route under a study must name it"
        for method in methods_of(client, world, name, sides["own"]):
            key = f"{name} {method}"
            seen.add(key)
            if key not in EXPECTED:
                wrong.append(f"{key}: not in the access matrix; add what each role may do there")
                continue
            for role in ROLES:
                own = EXPECTED[key][role]
                cells = [("own", own)] + ([("other", on_another_teams(role, own))] if scoped else [])
                for label, expected in cells:
                    response, body = request(client, world.users[role], method, sides[label])
                    if outcome(response) != expected:
                        wrong.append(f"{key} as {role} on the {label} object: {outcome(response)}, not {expected}")
                    if role != "admin" and SECRET.encode() in body:
                        wrong.append(f"{key} as {role} on the {label} object: another team's study leaked")
    wrong += [f"{key}: in the access matrix but no longer a route" for key in sorted(set(EXPECTED) - seen)]
    assert not wrong, "\n".join(wrong)


def study_path(model):
    """The lookup from a row of `model` to its study through foreign keys ("pk" for a study), or None."""
    if model is Study:
        return "pk"
    queue, visited = deque([(model, "")]), {model}
    while queue:
        current, path = queue.popleft()
        for field in current._meta.get_fields():
            if not (isinstance(field, models.ForeignKey) and field.concrete):
                continue
            target = field.related_model
            lookup = f"{path}__{field.name}" if path else field.name
            if target is Study:
                return lookup
            if target not in visited and target is not get_user_model():
                visited.add(target)
                queue.append((target, lookup))
    return None


def admin_object_routes(model_admin):
    """The admin's named routes about one row (change, delete, history, a past version)."""
    return [
        (pattern.name, dict(pattern.pattern.converters))
        for pattern in model_admin.urls
        if isinstance(pattern, URLPattern) and pattern.name and "object_id" in pattern.pattern.converters
    ]


def test_the_admin_shows_a_studys_rows_only_to_its_team_and_to_admins(client, world):
    study_bound = {model: study_path(model) for model in admin.site._registry if study_path(model)}
    assert {
        "Study",
        "Assignment",
        "Read",
        "TraceAnnotation",
        "TimingEvent",
        "AuditEntry",
        "StudyOutputPin",
        "StudyCoordinator",
        "UnaidedRead",
    } <= {model.__name__ for model in study_bound}
    wrong = []
    for model, path in study_bound.items():
        rows = {
            label: model.objects.filter(**{path: side.study.pk}).order_by("pk").first()
            for label, side in (("own", world.own), ("other", world.other))
        }
        assert None not in rows.values(), f"the world needs a {model.__name__} in each team's study"
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        changelist, body = request(client, world.users["coordinator"], "GET", reverse(f"{info}_changelist"))
        links = {label: reverse(f"{info}_change", args=[row.pk]).encode() for label, row in rows.items()}
        if (changelist.status_code, links["own"] in body, links["other"] in body, SECRET.encode() in body) != (
            200,
            True,
            False,
            False,
        ):
            wrong.append(
                f"{model.__name__} list: {changelist.status_code}, holds the own row "
                f"{links['own'] in body}, another team's {links['other'] in body}"
            )
        for route, converters in admin_object_routes(admin.site._registry[model]):
            for label, row in rows.items():
                kwargs = {"object_id": row.pk}
                if "version_id" in converters:
                    kwargs["version_id"] = row.history.order_by("-history_id").first().history_id
                unknown = set(converters) - set(kwargs)
                assert not unknown, f"{route}: the admin matrix does not know how to fill {unknown}"
                by_admin, _ = request(client, world.users["admin"], "GET", reverse(f"admin:{route}", kwargs=kwargs))
                by_coordinator, body = request(
                    client, world.users["coordinator"], "GET", reverse(f"admin:{route}", kwargs=kwargs)
                )
                # Coordinators view a study's rows and delete none; admins reach every row.
                own = 403 if route.endswith("_delete") else 200
                got = (by_admin.status_code in (200, 403), by_coordinator.status_code)
                if got != (True, own if label == "own" else 404) or (label == "other" and SECRET.encode() in body):
                    wrong.append(
                        f"{route} on the {label} row: admin {by_admin.status_code}, "
                        f"coordinator {by_coordinator.status_code}"
                    )
    assert not wrong, "\n".join(wrong)
