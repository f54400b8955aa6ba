from .analysis import AnalysisPlot, StudyAnalysis
from .annotations import LABELLED_CATEGORIES, AnnotationTarget, ErrorCategory, TraceAnnotation
from .audit import AuditAction, AuditEntry
from .cases import Case, CaseImage, CaseSet, CaseSetMembership, GroundTruth, ImportBatch, TruthValue
from .labels import Label
from .protocol import ProtocolFrozen
from .reading import Assignment, Rating, Read, ReadFinding, ReadingSession, TimingEvent, UnaidedRead
from .studies import (
    ABNORMALITY_KEY,
    AI_ARMS,
    Arm,
    BlankTruth,
    PrimaryEndpoint,
    ReaderProfile,
    Study,
    StudyCoordinator,
    StudyQuestion,
    StudyReader,
)

__all__ = [
    "AnalysisPlot",
    "StudyAnalysis",
    "ABNORMALITY_KEY",
    "AI_ARMS",
    "AuditAction",
    "AuditEntry",
    "AnnotationTarget",
    "ErrorCategory",
    "LABELLED_CATEGORIES",
    "TraceAnnotation",
    "Arm",
    "Assignment",
    "BlankTruth",
    "Case",
    "CaseImage",
    "CaseSet",
    "CaseSetMembership",
    "GroundTruth",
    "ImportBatch",
    "Label",
    "PrimaryEndpoint",
    "ProtocolFrozen",
    "Rating",
    "Read",
    "ReadFinding",
    "ReaderProfile",
    "ReadingSession",
    "Study",
    "StudyCoordinator",
    "StudyQuestion",
    "StudyReader",
    "TimingEvent",
    "TruthValue",
    "UnaidedRead",
]
