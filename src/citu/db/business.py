"""The business database's role: checked when its pool opens, refused when it can do harm.

``Services`` keeps the last ``RoleReport``; ``require_business_db`` raises
``BusinessRoleRefused`` while the report has findings (unless the operator set
``CITU_ALLOW_PRIVILEGED_BUSINESS_ROLE=true``), so no business SQL runs through a role that
could write, read server files or reach other sessions.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from citu.db.demo import DEMO_TABLES
from citu.db.reader_role import ReaderRoleSpec, apply_reader_role, with_user
from citu.db.role_check import RoleFinding, RoleReport, inspect_business_role
from citu.errors import ServiceUnavailable
from citu.settings import Settings

log = logging.getLogger("citu.db.business")

REFUSED_TEXT = (
    "业务数据库账号权限过高，已拒绝执行业务SQL："
    "请改用只读账号（见 citu db reader-role），"
    "或由管理员设置 CITU_ALLOW_PRIVILEGED_BUSINESS_ROLE=true 明确接受该风险"
)

ROLE_CHECK_TIMEOUT = 30.0  # seconds; a catalog with very many tables takes a while


class BusinessRoleRefused(ServiceUnavailable):
    """The business role has privileges beyond reading; the text is stable for clients."""

    def __init__(self) -> None:
        super().__init__(REFUSED_TEXT, can_retry=False)


async def check_business_role(pool: asyncpg.Pool) -> RoleReport:
    """Inspect the pool's role; a failed inspection is itself a finding (fail closed)."""
    try:
        async with asyncio.timeout(ROLE_CHECK_TIMEOUT):
            async with pool.acquire() as conn:
                report = await inspect_business_role(conn)
    except (asyncpg.PostgresError, OSError, TimeoutError) as error:
        log.error("business role check failed: %s", type(error).__name__)
        return RoleReport(
            "unknown", (RoleFinding("role_check_failed", "无法检查业务数据库账号权限"),)
        )
    for finding in report.findings:
        log.warning("business role %s: %s (%s)", report.role, finding.code, finding.detail)
    return report


def role_health(report: RoleReport | None, settings: Settings) -> dict[str, object] | None:
    """The ``/health`` entry for the business role, or None when nothing was found."""
    if report is None or report.ok:
        return None
    allowed = settings.allow_privileged_business_role
    return {
        "status": "degraded",
        "role": report.role,
        "reason": "业务数据库账号不是只读账号" + ("（已由配置明确允许）" if allowed else ""),
        "business_sql": "allowed" if allowed else "refused",
        "findings": [finding.as_dict() for finding in report.findings],
    }


async def ensure_demo_reader(admin_url: str, settings: Settings) -> str:
    """Create the demo's SELECT-only role (idempotent); return the URL that logs in as it.

    The embedded server trusts local socket connections, so the role needs no password.
    """
    from urllib.parse import urlsplit

    database = urlsplit(admin_url).path.lstrip("/")
    spec = ReaderRoleSpec(
        role=settings.demo_reader_role,
        database=database,
        schemas=("public",),
        tables=DEMO_TABLES,
        statement_timeout=f"{settings.business_statement_timeout_ms}ms",
    )
    conn = await asyncpg.connect(admin_url)
    try:
        await apply_reader_role(conn, spec)
    finally:
        await conn.close()
    return with_user(admin_url, settings.demo_reader_role)
