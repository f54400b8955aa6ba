import factory
from django.contrib.auth.models import Group, User

from readerstudy.models import (
    Arm,
    Assignment,
    Case,
    CaseSet,
    CaseSetMembership,
    ImportBatch,
    Read,
    ReadingSession,
    Study,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("correct horse battery")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        for role in extracted or []:
            self.groups.add(Group.objects.get(name=role))
        if extracted and {"admin", "coordinator"} & set(extracted):
            # Coordinators and admins may use the Django admin as a fallback.
            self.is_staff = True
            self.save(update_fields=["is_staff"])


class ImportBatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ImportBatch

    source = "factory"


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case

    source_id = factory.Sequence(lambda n: f"case-{n:04d}")
    import_batch = factory.SubFactory(ImportBatchFactory)


class CaseSetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CaseSet
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"case set {n}")

    @factory.post_generation
    def cases(self, create, extracted, **kwargs):
        for position, case in enumerate(extracted or [], start=1):
            CaseSetMembership.objects.create(case_set=self, case=case, position=position)


class StudyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Study
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Study {n}")
    case_set = factory.SubFactory(CaseSetFactory)
    randomisation_seed = 1234

    @factory.post_generation
    def team(self, create, extracted, **kwargs):
        """The coordinators who run the study (StudyFactory(team=[coordinator]))."""
        for user in extracted or []:
            self.coordinators.add(user)


class ReadingSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReadingSession

    study = factory.SubFactory(StudyFactory)
    reader = factory.SubFactory(UserFactory, roles=["reader"])
    index = 1


class AssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Assignment

    session = factory.SubFactory(ReadingSessionFactory)
    study = factory.SelfAttribute("session.study")
    reader = factory.SelfAttribute("session.reader")
    case = factory.SubFactory(CaseFactory)
    arm = Arm.UNAIDED
    position = factory.Sequence(lambda n: n + 1)


class ReadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Read

    assignment = factory.SubFactory(AssignmentFactory)


def user_by_relation(relation, coordinator):
    """A user as the access tests name them against a study run by `coordinator`."""
    if relation == "coordinator":
        return coordinator
    return UserFactory(roles=[{"another team's coordinator": "coordinator"}.get(relation, relation)])
