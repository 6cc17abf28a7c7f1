"""Projects (optionally for a client) and their tasks."""

from __future__ import annotations

from sqlalchemy import Index, text

from ..extensions import db
from .client import NAME_KEY_LENGTH
from .types import UTCDateTime, utcnow

TASK_STATUSES = ("todo", "in_progress", "done")


class Project(db.Model):
    __tablename__ = "projects"

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(200), nullable=False)
    # The name's key, unique per client and among the projects without one (see
    # Client.name_key).
    name_key = db.Column(db.String(NAME_KEY_LENGTH), nullable=False)
    client_id = db.Column(
        db.Integer, db.ForeignKey("clients.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    billable = db.Column(db.Boolean, nullable=False, default=True)
    hourly_rate = db.Column(db.Numeric(12, 2), nullable=True)
    color = db.Column(db.String(7), nullable=False, default="#3b82f6")
    archived = db.Column(db.Boolean, nullable=False, default=False)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    client = db.relationship("Client", back_populates="projects")
    tasks = db.relationship(
        "Task", back_populates="project", order_by="Task.name", cascade="all, delete-orphan"
    )

    __table_args__ = (
        # The exact-name constraints predate the keys, which imply them; migration 0012
        # keeps them (dropping one rebuilds the table on SQLite).
        db.UniqueConstraint("client_id", "name", name="uq_projects_client_name"),
        Index("uq_projects_client_name_key", "client_id", "name_key", unique=True),
        # A unique index treats every NULL client as another one: the projects without
        # a client need their own index to be unique by key among themselves.
        Index("uq_projects_name_key_no_client", "name_key", unique=True,
              sqlite_where=text("client_id IS NULL"), postgresql_where=text("client_id IS NULL")),
    )

    def __repr__(self) -> str:
        return f"<Project id={self.id}>"


class Task(db.Model):
    __tablename__ = "tasks"

    id = db.Column(db.Integer, primary_key=True)
    project_id = db.Column(
        db.Integer, db.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name = db.Column(db.String(200), nullable=False)
    # The name's key, unique per project (see Client.name_key).
    name_key = db.Column(db.String(NAME_KEY_LENGTH), nullable=False)
    status = db.Column(db.String(16), nullable=False, default="todo")
    hourly_rate = db.Column(db.Numeric(12, 2), nullable=True)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    project = db.relationship("Project", back_populates="tasks")

    __table_args__ = (
        db.UniqueConstraint("project_id", "name", name="uq_tasks_project_name"),
        Index("uq_tasks_project_name_key", "project_id", "name_key", unique=True),
        db.CheckConstraint("status IN ('todo', 'in_progress', 'done')", name="status_valid"),
    )

    def __repr__(self) -> str:
        return f"<Task id={self.id}>"
