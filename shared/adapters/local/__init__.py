"""Local adapters for every port: the same service logic runs on one machine.

FileObjectStore   ObjectStore: s3://<bucket>/<key> is <root>/<bucket>/<key>
SqliteEventBus    EventBus plus SQS-like queues (visibility, receive count, dead letters)
SqliteJobTable    JobTable with DynamoDB's conditional-write semantics
SubprocessLauncher StageLauncher: each stage image's program as SageMaker runs it, as a subprocess
OutboxMailer      Mailer: .eml files in an outbox, plus SMTP when configured
"""

from shared.adapters.local.db import Database
from shared.adapters.local.jobs import SqliteJobTable
from shared.adapters.local.launcher import SubprocessLauncher, module_command
from shared.adapters.local.mailer import OutboxMailer, SmtpSettings
from shared.adapters.local.queues import DeadLetter, Received, SqliteEventBus
from shared.adapters.local.store import FileObjectStore

__all__ = [
    "Database",
    "DeadLetter",
    "FileObjectStore",
    "OutboxMailer",
    "Received",
    "SmtpSettings",
    "SqliteEventBus",
    "SqliteJobTable",
    "SubprocessLauncher",
    "module_command",
]
