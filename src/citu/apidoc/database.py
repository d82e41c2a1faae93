"""The ``data`` of each answer of the business database routes, as ``/openapi.json`` shows
it."""

from __future__ import annotations

from pydantic import BaseModel, Field

from citu.apidoc.base import RouteData


class DatabaseInfo(BaseModel):
    database: str


class DatabaseTablesData(RouteData):
    tables: list[str] = Field(description="``schema.table`` names")
    total: int
    schemas: list[str]
    db_connection_info: DatabaseInfo
    table_name_pattern: str | None = None


class TableInfo(BaseModel):
    table_name: str
    schema_name: str
    full_name: str
    comment: str | None
    field_count: int
    row_count: int
    table_size: str


class TableField(BaseModel):
    name: str
    type: str
    nullable: bool
    comment: str | None
    is_primary_key: bool
    is_foreign_key: bool
    default_value: str | None
    is_enum: bool
    enum_values: list[str] | None


class GenerationInfo(BaseModel):
    business_context: str
    output_type: str
    has_llm_comments: bool
    database: str


class TableDdlData(RouteData):
    ddl: str | None = Field(None, description="type ddl or both: an executable CREATE TABLE")
    md: str | None = Field(None, description="type md or both: Markdown documentation")
    table_info: TableInfo
    fields: list[TableField]
    generation_info: GenerationInfo
