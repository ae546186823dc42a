"""TMF620 ``importJob`` and ``exportJob``: catalog files through the API.

An import job takes inline ``content`` (extension; YAML or JSON) or a ``url``
``file://…`` naming a file inside the import directory (``OPENBSS_CATALOG_IMPORT_DIR``,
default ``./var/import``; nothing is fetched over the network). It runs at once inside a
savepoint: on success its resources are committed with the job (``Succeeded``), on
failure nothing is imported and the job records ``Failed`` with the ``errorLog`` naming
the path inside the file. An export job renders the whole catalog (``contentType``
``application/yaml``, default, or ``application/json``) into its ``content`` and serves
it at its ``url`` (``…/exportJob/{id}/content``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from openbss.catalog import exporter, importer, queries
from openbss.catalog.errors import ImportSourceUnreadable
from openbss.catalog.lifecycle import JobStatus
from openbss.catalog.models import CatalogJob
from openbss.catalog.paths import path_of
from openbss.catalog.schemas import ExportJobIn, ImportJobIn
from openbss.core import audit
from openbss.core.config import get_settings
from openbss.core.context import Context
from openbss.core.errors import OpenBSSError, ValidationError
from openbss.core.tmf import ListParams, href, iso

TYPES = {"importJob": "ImportJob", "exportJob": "ExportJob"}
MEDIA = {"yaml": "application/yaml", "json": "application/json"}


def import_dir() -> Path:
    return Path(get_settings().catalog_import_dir).resolve()


def render_job(ctx: Context, job: CatalogJob) -> dict[str, Any]:
    """The TMF ``importJob``/``exportJob`` of a stored job."""
    out: dict[str, Any] = {"id": job.id, "href": href(ctx.base_url, path_of(job.kind),
                                                      job.id)}
    out.update(job.body)
    out.update({
        "status": job.status,
        "contentType": job.content_type,
        "creationDate": iso(job.creation_date),
        "@type": TYPES[job.kind],
    })
    if job.completion_date is not None:
        out["completionDate"] = iso(job.completion_date)
    if job.error_log:
        out["errorLog"] = job.error_log
    if job.kind == "exportJob":
        out["url"] = out["href"] + "/content"
        out["content"] = job.content or ""
    return out


def get_job(ctx: Context, *, kind: str, job_id: str) -> CatalogJob:
    """The ``importJob``/``exportJob`` of this tenant, or 404."""
    return queries.get_job(ctx, kind, job_id)


def list_jobs(ctx: Context, *, kind: str, params: ListParams
              ) -> tuple[Sequence[CatalogJob], int]:
    """One page of a job list (filters ``id``, ``status``, ``creationDate``)."""
    return queries.job_page(ctx, kind, params)


def delete_job(ctx: Context, *, kind: str, job_id: str) -> None:
    job = get_job(ctx, kind=kind, job_id=job_id)
    ctx.session.delete(job)
    ctx.session.flush()
    audit.record(ctx, action="delete", resource_type=kind, resource_id=job_id)


def _read_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme != "file":
        raise ImportSourceUnreadable("only file:// URLs inside the import directory are accepted "
                              "(or send the file inline as content)", field="url")
    path = Path(unquote(parsed.path)).resolve()
    root = import_dir()
    if not path.is_relative_to(root):
        raise ImportSourceUnreadable(f"url must point inside the import directory {root}",
                              field="url")
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ImportSourceUnreadable(f"cannot read {path.name}: {exc.strerror}", field="url") \
            from None
    except UnicodeDecodeError:
        raise ImportSourceUnreadable(f"{path.name} is not UTF-8 text (a catalog file is YAML "
                                     "or JSON)", field="url") from None


def create_import_job(ctx: Context, *, data: ImportJobIn) -> CatalogJob:
    """Run an import at once, all or nothing; the job records how it ended."""
    request = data
    if (request.url is None) == (request.content is None):
        raise ValidationError("give either url (file://…) or inline content", field="url")
    text = request.content if request.content is not None else _read_url(request.url or "")
    body = {k: v for k, v in {"url": request.url, "path": request.path}.items() if v}
    job = CatalogJob(tenant_id=ctx.tenant_id, kind="importJob", status=JobStatus.RUNNING.value,
                     content_type=request.content_type or MEDIA["yaml"],
                     creation_date=ctx.now, body=body)
    savepoint = ctx.session.begin_nested()
    try:
        counts = importer.import_catalog(ctx, data=importer.parse(text))
        savepoint.commit()
        job.status = JobStatus.SUCCEEDED.value
        job.body = {**body, "result": counts}
    except OpenBSSError as exc:
        savepoint.rollback()
        job.status = JobStatus.FAILED.value
        job.error_log = exc.message
    job.completion_date = ctx.now
    ctx.session.add(job)
    ctx.session.flush()
    audit.record(ctx, action="create", resource_type="importJob", resource_id=job.id,
                 after={"status": job.status, "errorLog": job.error_log})
    return job


def create_export_job(ctx: Context, *, data: ExportJobIn) -> CatalogJob:
    """Render the tenant's whole catalog into the job's content."""
    request = data
    media = request.content_type or MEDIA["yaml"]
    formats = {v: k for k, v in MEDIA.items()}
    if media not in formats:
        raise ValidationError(f"contentType must be one of {', '.join(MEDIA.values())}",
                              field="contentType")
    content = importer.dump(exporter.export_catalog(ctx), formats[media])
    body = {k: v for k, v in {"path": request.path, "query": request.query}.items() if v}
    job = CatalogJob(tenant_id=ctx.tenant_id, kind="exportJob", status=JobStatus.SUCCEEDED.value,
                     content_type=media, creation_date=ctx.now, completion_date=ctx.now,
                     content=content, body=body)
    ctx.session.add(job)
    ctx.session.flush()
    audit.record(ctx, action="create", resource_type="exportJob", resource_id=job.id)
    return job
