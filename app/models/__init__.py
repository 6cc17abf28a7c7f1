"""The data model. Importing this package registers every table on ``db.metadata``."""

from .api_token import ApiToken
from .client import Client
from .instance_secret import InstanceSecret
from .project import TASK_STATUSES, Project, Task
from .settings import Settings
from .time_entry import SOURCE_MANUAL, SOURCE_TIMER, TimeEntry
from .user import ROLE_ADMIN, ROLE_USER, ROLES, User

__all__ = [
    "ApiToken",
    "Client",
    "InstanceSecret",
    "Project",
    "Task",
    "TASK_STATUSES",
    "Settings",
    "TimeEntry",
    "SOURCE_MANUAL",
    "SOURCE_TIMER",
    "User",
    "ROLES",
    "ROLE_ADMIN",
    "ROLE_USER",
]
