"""Courses of education programs: what the API takes and returns, and the client parses."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CourseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Short name; students' projects are <name>-<username>.")
    title: str = Field("", max_length=256)
    organisation: str = Field(description="The organisation giving it (often a university).")
    program: str = Field(description="An education program (kind 'education').")
    instructor: str = Field(description="A user of that organisation.")
    starts_at: float = Field(description="POSIX seconds; within the program's period.")
    ends_at: float = Field(description="POSIX seconds; everything of the course ends then.")
    student_hours: dict[str, float] = Field(
        description="Per student: resource (accelerator type or 'pf') -> hours."
    )
    student_quota: dict[str, float] = Field(
        default_factory=dict,
        description="Per student: accelerator type -> concurrent devices.",
    )
    datasets: list[str] = Field(
        default_factory=list, description="Dataset names shared with the students."
    )


class RosterBody(BaseModel):
    """The JSON form of a roster upload (the other is the CSV itself, as text/csv)."""

    model_config = ConfigDict(extra="forbid")

    csv: str = Field(description="username,email,full_name and one row per student.")


class CreditView(BaseModel):
    resource: str
    granted_hours: float
    used_hours: float


class StudentView(BaseModel):
    username: str
    email: str
    full_name: str
    project: str
    allocation_id: int
    allocation_state: str
    credits: list[CreditView]


class CourseView(BaseModel):
    name: str
    title: str
    organisation: str
    program: str
    instructor: str
    starts_at: float
    ends_at: float
    student_hours: dict[str, float]
    student_quota: dict[str, float]
    datasets: list[str]
    student_count: int
    created_at: float
    # Filled by show and the roster import: every student for those who manage the course,
    # a student's own row for the student, none for other members of the organisation.
    students: list[StudentView] = Field(default_factory=list)


class RosterImportView(BaseModel):
    course: str
    added: list[StudentView]
    # Usernames of the file already enrolled in this course: left as they were.
    already_enrolled: list[str]
    # "username,token" lines with a header, for the new students only: shown this once.
    tokens_csv: str
