"""Forget the durable workflows of deleted jobs: DBOS keeps each job's inputs and every phase's
output (the parsed CV included) in its own tables, which deleting our rows does not reach."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from cvsession.jobs.engine import dbos_location

log = logging.getLogger(__name__)


def forget_jobs(job_ids: Sequence[str], *, store_url: str, data_dir: Path) -> None:
    """Cancel and delete the workflows of `job_ids` (the workflow id is the job id).

    Works whether or not a job engine runs in this process (a DBOS client, no launch). Where
    DBOS never ran there is nothing to forget; a failure is logged, never raised: the session
    is already gone and the next deletion cannot retry this one.
    """
    url, schema = dbos_location(store_url, data_dir)
    if not job_ids or (url.startswith("sqlite:///") and not Path(url[10:]).exists()):
        return
    from dbos import DBOSClient

    try:
        client = DBOSClient(system_database_url=url, dbos_system_schema=schema)
        try:
            client.cancel_workflows(list(job_ids))
            client.delete_workflows(list(job_ids))
        finally:
            client.destroy()
    except Exception:
        log.warning("could not delete the workflows of %d deleted job(s)", len(job_ids),
                    exc_info=True)  # fmt: skip
