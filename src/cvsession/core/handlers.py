"""Import every named mutation so that it is registered; the service imports this module."""

import cvsession.core.mutations_processing  # noqa: F401  (registers server.checkpoint)
from cvsession.core import mutations_content, mutations_history, mutations_workflow
from cvsession.core.mutations import apply_mutation, handler_names

# Mutations a client may never send: the server issues them itself.
SERVER_ONLY_PREFIX = "server."

__all__ = [
    "SERVER_ONLY_PREFIX",
    "apply_mutation",
    "handler_names",
    "mutations_content",
    "mutations_history",
    "mutations_workflow",
]
