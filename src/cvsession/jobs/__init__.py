"""Durable background jobs: the CV pipeline and feature/template jobs on DBOS behind `JobEngine`."""

from cvsession.jobs.engine import JobEngine
from cvsession.jobs.records import job_json

__all__ = ["JobEngine", "job_json"]
