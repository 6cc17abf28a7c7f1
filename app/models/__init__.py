"""The data model. Importing this package registers every table on ``db.metadata``."""

from .api_token import ApiToken
from .client import Client
from .instance_secret import InstanceSecret
from .project import TASK_STATUSES, Project, Task
from .settings import Settings
from .tag import Tag, time_entry_tags
from .time_entry import SOURCE_MANUAL, SOURCE_TIMER, TimeEntry
from .user import HOURS_FORMATS, ROLE_ADMIN, ROLE_USER, ROLES, THEMES, User

__all__ = [
    "ApiToken",
    "Client",
    "InstanceSecret",
    "Project",
    "Task",
    "TASK_STATUSES",
    "Settings",
    "Tag",
    "time_entry_tags",
    "HOURS_FORMATS",
    "THEMES",
    "TimeEntry",
    "SOURCE_MANUAL",
    "SOURCE_TIMER",
    "User",
    "ROLES",
    "ROLE_ADMIN",
    "ROLE_USER",
]
