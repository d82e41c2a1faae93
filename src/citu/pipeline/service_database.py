"""The database inspection part of the pipeline service: a business database's tables and DDL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import asyncpg

from citu.errors import NotFound
from citu.pipeline.files import split_table_name
from citu.pipeline.inspect import TableNotFound
from citu.pipeline.llm import PipelineLlm
from citu.pipeline.render import render_ddl, render_doc
from citu.pipeline.steps.ddl import describe_table
from citu.settings import Settings


def database_name(dsn: str | None) -> str:
    if not dsn:
        return "database"
    name = urlsplit(dsn).path.rsplit("/", 1)[-1].split("?", 1)[0]
    return name or "database"


class DatabaseInspectionPart:
    """Mixed into ``PipelineService``, which provides the attributes below."""

    settings: Settings
    llm: PipelineLlm
    default_business_url: str | None

    if TYPE_CHECKING:

        async def _business(self, dsn: str | None) -> tuple[asyncpg.Pool, bool]: ...

    async def database_tables(
        self, dsn: str | None, schemas: list[str], pattern: str | None
    ) -> list[str]:
        pool, owned = await self._business(dsn)
        try:
            tables = []
            for schema in schemas:
                if pattern:
                    rows = await pool.fetch(
                        "SELECT schemaname, tablename FROM pg_tables "
                        "WHERE schemaname = $1 AND tablename LIKE $2 ORDER BY tablename",
                        schema,
                        pattern,
                    )
                else:
                    rows = await pool.fetch(
                        "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = $1 "
                        "ORDER BY tablename",
                        schema,
                    )
                tables += [f"{r['schemaname']}.{r['tablename']}" for r in rows]
            return sorted(tables)
        finally:
            if owned:
                await pool.close()

    async def table_ddl(
        self, dsn: str | None, table: str, business_context: str, output: str
    ) -> dict[str, Any]:
        schema, name = split_table_name(table)
        pool, owned = await self._business(dsn)
        try:
            meta, _ = await describe_table(
                pool, self.llm, schema, name, business_context, self.settings
            )
        except TableNotFound as error:
            raise NotFound(f"获取表结构失败: {error}") from error
        finally:
            if owned:
                await pool.close()
        data: dict[str, Any] = {}
        if output in ("ddl", "both"):
            data["ddl"] = render_ddl(meta)
        if output in ("md", "both"):
            data["md"] = render_doc(meta)
        data.update(
            {
                "table_info": meta.info(),
                "fields": [f.as_api() for f in meta.fields],
                "generation_info": {
                    "business_context": business_context,
                    "output_type": output,
                    "has_llm_comments": bool(business_context),
                    "database": database_name(dsn or self.default_business_url),
                },
            }
        )
        return data
