"""Projects (optionally for a client) and their tasks."""

from __future__ import annotations

from ..extensions import db
from .types import UTCDateTime, utcnow

TASK_STATUSES = ("todo", "in_progress", "done")


class Project(db.Model):
    __tablename__ = "projects"

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(200), nullable=False)
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

    __table_args__ = (db.UniqueConstraint("client_id", "name", name="uq_projects_client_name"),)

    def __repr__(self) -> str:
        return f"<Project id={self.id}>"


class Task(db.Model):
    __tablename__ = "tasks"

    id = db.Column(db.Integer, primary_key=True)
    project_id = db.Column(
        db.Integer, db.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name = db.Column(db.String(200), nullable=False)
    status = db.Column(db.String(16), nullable=False, default="todo")
    hourly_rate = db.Column(db.Numeric(12, 2), nullable=True)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)

    project = db.relationship("Project", back_populates="tasks")

    __table_args__ = (
        db.UniqueConstraint("project_id", "name", name="uq_tasks_project_name"),
        db.CheckConstraint("status IN ('todo', 'in_progress', 'done')", name="status_valid"),
    )

    def __repr__(self) -> str:
        return f"<Task id={self.id}>"
