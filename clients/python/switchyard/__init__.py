"""Switchyard for Python: publish, subscribe and consume Switchyard channels on Redis.

    from switchyard import Switchyard
    sy = Switchyard.from_url("redis://127.0.0.1:6379", source="signal_service", contracts="contracts/")
    receipt = sy.publish("signals.generated", {...})

The same API for asyncio is in `switchyard.aio`; `switchyard.outbox.emit` writes an event inside a
psycopg transaction. See clients/python/README.md and docs/clients.md.
"""

from ._core import ContractPayload, PublishRequest, Receipt
from .delivery import Backoff, GroupOptions
from .spool import Spool
from .client import DeadLetter, StateStore, Switchyard
from .group import Group, ProcessedStore
from .subscription import Subscription
from .contracts import Contract, ContractRegistry, Policy
from .guard import PayloadGuard
from .envelope import Event, uuid7
from .errors import (
    EncryptionKeyRequired, EngineUnavailable, PayloadTooLarge, RateLimited, SpoolFull, StateKeyError, SwitchyardError,
    UnknownChannel, ValidationError,
)
from .security import KeyRing
from .state import StateValue

__all__ = [
    "Backoff", "Contract", "ContractPayload", "ContractRegistry", "DeadLetter", "EncryptionKeyRequired", "EngineUnavailable",
    "Event", "Group", "GroupOptions", "KeyRing", "PayloadGuard", "PayloadTooLarge", "Policy", "ProcessedStore",
    "PublishRequest", "RateLimited", "Receipt", "Spool", "SpoolFull", "StateKeyError", "StateStore", "StateValue",
    "Subscription", "Switchyard", "SwitchyardError", "UnknownChannel", "ValidationError", "uuid7",
]
__version__ = "0.1.0"
