"""Whole-file and whole-store training routes: ``/api/v0/training_data/upload`` (train from a
file) and ``/api/v0/training_data/combine`` (remove duplicates).

Both always answer HTTP 200, as the old service did: the outcome (success false, code 400 or
500, the error data) is in the body.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from quart import Blueprint, Response, request
from quart_schema import DataSource, document_request, validate_request
from quart_schema.pydantic import File

from citu import responses as r
from citu.apidoc import ErrorData, RequestModel, envelope, responds
from citu.apidoc import training as docs
from citu.blueprints.training import item_result_json
from citu.errors import BadRequest
from citu.security import require_admin
from citu.services import services
from citu.training.questions import MSG_NO_LLM
from citu.training.service import KEEP_STRATEGIES
from citu.training.uploads import UploadRejected, parse_upload
from citu.web.failures import fails_with

bp = Blueprint("training_bulk", __name__)

_COLLECTIONS = ("sql", "ddl", "documentation", "error_sql")
_ALWAYS_200 = (
    "HTTP 200 whatever the outcome (the old contract): success false, code 400 or 500 and the"
    " error data when it failed."
)


class UploadForm(RequestModel):
    """Documents the multipart form; the handler reads it itself to keep the old 200 answers."""

    file: File
    """The file, at most CITU_TRAINING_UPLOAD_MAX_BYTES (500 KB), UTF-8."""
    file_type: str
    """ddl | markdown | sql_pair_json | sql_pair | sql (sql needs the LLM for questions)."""


@bp.post("/api/v0/training_data/upload")
@responds(
    docs.TrainingUploadData,
    other={200: envelope(docs.TrainingUploadData | ErrorData, "TrainingUploadAnswer", _ALWAYS_200)},
)
@require_admin
@document_request(UploadForm, source=DataSource.FORM_MULTIPART)
@fails_with("训练失败: {error}", http_status=200, reason=True)
async def upload_training_file() -> Response:
    """Train from a file (multipart ``file`` + ``file_type``: ddl, markdown, sql_pair_json,
    sql_pair, sql); reports what each item became."""
    files, form = await request.files, await request.form
    upload = files.get("file")
    if upload is None:
        return r.reply(r.bad_request_response("未提供文件"), 200)
    if not upload.filename:
        return r.reply(r.bad_request_response("未选择文件"), 200)
    file_type = form.get("file_type")
    if not file_type:
        return r.reply(r.bad_request_response("缺少必需参数：file_type"), 200)
    training = services().training
    max_bytes = services().settings.training_upload_max_bytes
    content = upload.read(max_bytes + 1)  # a spooled in-memory buffer of at most 500 KB
    try:
        parsed = parse_upload(file_type, upload.filename, content, max_bytes)
        if file_type == "sql" and training.llm is None:
            raise UploadRejected(MSG_NO_LLM)
    except UploadRejected as rejected:
        return r.reply(r.bad_request_response(rejected.text), 200)
    results = await training.train_batch(parsed.entries)
    stored = [res.stored for res in results if res.stored is not None]
    failures = [res for res in results if res.stored is None]
    data = {
        "filename": parsed.filename,
        "file_type": file_type,
        "file_size": len(content),
        "status": "completed" if not failures else "partially_completed",
        "total_items": len(results),
        "stored_count": sum(1 for s in stored if s.created),
        "duplicate_count": sum(1 for s in stored if not s.created),
        "failed_count": len(failures),
        "results": [
            item_result_json(res, entry, None)
            for res, entry in zip(results, parsed.entries, strict=True)
        ],
    }
    if not stored:
        data["status"] = "failed"
        return r.reply(r.error_response(f"训练失败: {failures[0].error}", data=data), 200)
    text = f"文件上传并训练成功：{parsed.filename}"
    if failures:
        text = (
            f"文件上传并训练部分成功：{parsed.filename}，成功{len(stored)}条，失败{len(failures)}条"
        )
    return r.reply(r.success_response(text, data), 200)


class CombineIn(RequestModel):
    documented_required = ("collection_names",)

    collection_names: Any = Field(
        None,
        description="collections to deduplicate: sql, ddl, documentation, error_sql",
        json_schema_extra={"type": "array", "items": {"enum": list(_COLLECTIONS)}, "minItems": 1},
    )
    dry_run: Any = Field(
        True,
        description="only report duplicates; anything but false previews",
        json_schema_extra={"type": "boolean"},
    )
    keep_strategy: Any = Field(
        "first",
        description="which copy survives: first | last | by_metadata_time",
        json_schema_extra={"enum": ["first", "last", "by_metadata_time"]},
    )


@bp.post("/api/v0/training_data/combine")
@responds(
    docs.TrainingCombineData,
    other={
        200: envelope(docs.TrainingCombineData | ErrorData, "TrainingCombineAnswer", _ALWAYS_200)
    },
)
@require_admin
@validate_request(CombineIn)
@fails_with("合并操作失败: {error}", http_status=200, reason=True)
async def combine_training_data(data: CombineIn) -> Response:
    """Find (dry_run, the default) or remove duplicate documents inside collections."""
    if not data.model_fields_set:
        raise BadRequest("请求体不能为空")
    names = data.collection_names
    if not isinstance(names, list) or not names:
        raise BadRequest("collection_names 参数必须是非空数组", invalid_params=["collection_names"])
    unknown = [n for n in names if n not in _COLLECTIONS]
    if unknown:
        raise BadRequest(f"不支持的集合名称: {unknown}", invalid_params=["collection_names"])
    if data.keep_strategy not in KEEP_STRATEGIES:
        raise BadRequest(
            "keep_strategy 必须是 'first', 'last' 或 'by_metadata_time'",
            invalid_params=["keep_strategy"],
        )
    dry_run = bool(data.dry_run)  # anything truthy, even "false", only previews (the safe side)
    report = await services().training.combine(
        names, dry_run=dry_run, keep_strategy=data.keep_strategy
    )
    summary = report["summary"]
    before, after = summary["total_records_before"], summary["total_records_after"]
    removed = before - after
    if dry_run:
        text = f"发现 {removed} 条重复记录，预计删除后将从 {before} 条减少到 {after} 条记录"
    else:
        text = f"成功合并重复记录，删除了 {removed} 条重复记录，从 {before} 条减少到 {after} 条记录"
    return r.reply(r.success_response(text, report), 200)
