"""Inspecting the business database (``/api/v0/database/…``): its tables, and one table's DDL
or Markdown documentation. Nothing is written.

Each request may name another database in ``db_connection``; ``PipelineService.check_dsn``
decides whether that is allowed.
"""

from __future__ import annotations

import logging
from typing import Any

from quart import Blueprint
from quart_schema import document_request

from citu import responses as r
from citu.apidoc import database as docs
from citu.apidoc import responds
from citu.blueprints.pipeline import json_body
from citu.errors import BadRequest, NotFound
from citu.pipeline import schemas
from citu.pipeline.service import database_name
from citu.security import require_admin
from citu.services import services
from citu.web.failures import fails_with, passes_through

log = logging.getLogger("citu.database.api")

bp = Blueprint("database", __name__)

DDL_TYPES = ("ddl", "md", "both")
PG_NAME_MAX_BYTES = 63  # PostgreSQL's identifier limit: a longer name is an error there


def _check_name_lengths(field: str, names: list[str]) -> None:
    if any(len(name.encode()) > PG_NAME_MAX_BYTES for name in names):
        raise BadRequest(
            f"{field}中的名称过长（最多{PG_NAME_MAX_BYTES}字节）", invalid_params=[field]
        )


@bp.post("/api/v0/database/tables")
@responds(docs.DatabaseTablesData)
@require_admin
@document_request(schemas.DatabaseTablesIn)
@fails_with("获取表列表失败: 数据库连接或查询失败", client_database=True)
async def database_tables():
    """Tables of the business database (or of ``db_connection``), optionally filtered."""
    body = await json_body()
    svc = services().pipeline
    dsn = svc.check_dsn(body.get("db_connection"))
    schema = body.get("schema")
    if schema is not None and not isinstance(schema, str):
        raise BadRequest("schema必须是逗号分隔的字符串", invalid_params=["schema"])
    schemas = [s.strip() for s in (schema or "").split(",") if s.strip()] or ["public"]
    _check_name_lengths("schema", schemas)
    pattern = body.get("table_name_pattern")
    if pattern is not None and not isinstance(pattern, str):
        raise BadRequest("table_name_pattern必须是字符串", invalid_params=["table_name_pattern"])
    like = (pattern if "%" in pattern else pattern.replace("*", "%")) if pattern else None
    tables = await svc.database_tables(dsn, schemas, like)

    data: dict[str, Any] = {
        "tables": tables,
        "total": len(tables),
        "schemas": schemas,
        "db_connection_info": {"database": database_name(dsn or svc.default_business_url)},
    }
    if pattern:
        data["table_name_pattern"] = pattern
    return r.reply(r.success_response("获取表列表成功", data))


@bp.post("/api/v0/database/table/ddl")
@responds(docs.TableDdlData, errors=(404,))
@require_admin
@document_request(schemas.TableDdlIn)
async def table_ddl():
    """DDL and/or Markdown documentation of one business table (nothing is written)."""
    body = await json_body()
    output = body.get("type", "ddl")
    label = str(output).upper()
    try:
        table = body.get("table")
        if not table:
            raise BadRequest("缺少必需参数：table", missing_params=["table"])
        if not isinstance(table, str):
            raise BadRequest("table必须是字符串", invalid_params=["table"])
        _check_name_lengths("table", table.split("."))
        if output not in DDL_TYPES:
            raise BadRequest(
                f"无效的type参数: {output}，支持的值: {list(DDL_TYPES)}", invalid_params=["type"]
            )
        context = body.get("business_context") or ""
        if not isinstance(context, str):
            raise BadRequest("business_context必须是字符串", invalid_params=["business_context"])
        svc = services().pipeline
        dsn = svc.check_dsn(body.get("db_connection"))
        data = await svc.table_ddl(dsn, table, context, output)
    except NotFound as error:
        raise NotFound(f"获取表{label}失败: {error}") from error
    except Exception as error:  # fails_with cannot: the route's text names the type asked for
        if passes_through(error, client_database=True):
            raise
        log.exception("table ddl failed")
        return r.reply(r.internal_error_response(f"获取表{label}失败: 数据库连接或查询失败"), 500)
    return r.reply(r.success_response(f"获取表{label}成功", data))
