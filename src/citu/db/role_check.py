"""What the business connection's role may do beyond reading, inspected at start.

The guard decides what SQL runs; this check makes sure that even SQL that slipped past it
cannot write, reach the server's files or programs, signal other sessions or open a second
connection. Each finding names the privilege and why it matters; ``/health`` shows them and
business SQL is refused until the role is fixed (or the operator accepts it explicitly).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import asyncpg

__all__ = ["RoleFinding", "RoleReport", "inspect_business_role", "PRIVILEGED_BUILTIN_ROLES"]

# Predefined roles that turn a reader into something else; checked only where they exist.
PRIVILEGED_BUILTIN_ROLES: dict[str, str] = {
    "pg_read_server_files": "可读取数据库服务器上的任意文件",
    "pg_write_server_files": "可写入数据库服务器上的任意文件",
    "pg_execute_server_program": "可在数据库服务器上执行程序",
    "pg_signal_backend": "可取消或终止其他会话",
    "pg_write_all_data": "可写入所有表",
    "pg_read_all_settings": "可读取全部服务器配置（含文件路径）",
    "pg_checkpoint": "可触发检查点",
    "pg_create_subscription": "可创建订阅（连接其他数据库）",
    "pg_use_reserved_connections": "可占用保留连接",
}

# Object kinds listed in a finding, at most this many names each (the rest are counted).
_SAMPLE = 5

_SYSTEM_SCHEMAS = """
    n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
"""

_ATTRIBUTES = """
SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls
FROM pg_roles WHERE rolname = current_user
"""

# Column-level INSERT/UPDATE/REFERENCES count too (has_any_column_privilege covers both).
_TABLE_WRITES = f"""
SELECT p.priv, count(*) AS n,
       (array_agg(quote_ident(n.nspname) || '.' || quote_ident(c.relname)
                  ORDER BY n.nspname, c.relname))[1:{_SAMPLE}] AS sample
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'])
    AS p(priv)
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {_SYSTEM_SCHEMAS}
  AND CASE WHEN p.priv IN ('INSERT', 'UPDATE', 'REFERENCES')
           THEN has_any_column_privilege(c.oid, p.priv)
           ELSE has_table_privilege(c.oid, p.priv) END
GROUP BY p.priv ORDER BY p.priv
"""

# nextval()/setval() write, so USAGE or UPDATE on a sequence is a write privilege.
_SEQUENCE_WRITES = f"""
SELECT count(*) AS n,
       (array_agg(quote_ident(n.nspname) || '.' || quote_ident(c.relname)
                  ORDER BY n.nspname, c.relname))[1:{_SAMPLE}] AS sample
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'S' AND {_SYSTEM_SCHEMAS}
  AND (has_sequence_privilege(c.oid, 'UPDATE') OR has_sequence_privilege(c.oid, 'USAGE'))
"""

_OWNED = f"""
SELECT count(*) AS n,
       (array_agg(quote_ident(n.nspname) || '.' || quote_ident(c.relname)
                  ORDER BY n.nspname, c.relname))[1:{_SAMPLE}] AS sample
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
  AND {_SYSTEM_SCHEMAS}
"""

_CREATE_SCHEMAS = f"""
SELECT coalesce(array_agg(quote_ident(n.nspname) ORDER BY n.nspname), '{{}}')
FROM pg_namespace n
WHERE has_schema_privilege(n.oid, 'CREATE') AND {_SYSTEM_SCHEMAS}
"""

_MEMBERSHIPS = """
SELECT rolname FROM pg_roles
WHERE rolname = ANY($1::text[]) AND pg_has_role(current_user, oid, 'MEMBER')
ORDER BY rolname
"""

# MEMBER also covers NOINHERIT grants: SET ROLE would make the session a superuser.
_SUPERUSER_MEMBERSHIPS = """
SELECT coalesce(array_agg(rolname ORDER BY rolname), '{}') FROM pg_roles
WHERE rolsuper AND rolname <> current_user AND pg_has_role(current_user, oid, 'MEMBER')
"""

# dblink opens a second connection whose writes no read-only session setting governs.
_DBLINK = """
SELECT count(*) FROM pg_extension e
JOIN pg_depend d ON d.refobjid = e.oid AND d.refclassid = 'pg_extension'::regclass
                AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
JOIN pg_proc p ON p.oid = d.objid
WHERE e.extname = 'dblink' AND p.proname LIKE 'dblink%'
  AND has_function_privilege(p.oid, 'EXECUTE')
"""

_FOREIGN_SERVERS = """
SELECT coalesce(array_agg(quote_ident(s.srvname) ORDER BY s.srvname), '{}')
FROM pg_foreign_server s WHERE has_server_privilege(s.oid, 'USAGE')
"""

# USAGE on a wrapper lets the role define its own servers (and connections) with it.
_FOREIGN_WRAPPERS = """
SELECT coalesce(array_agg(quote_ident(w.fdwname) ORDER BY w.fdwname), '{}')
FROM pg_foreign_data_wrapper w WHERE has_foreign_data_wrapper_privilege(w.oid, 'USAGE')
"""

# A SECURITY DEFINER function runs with its owner's rights: a classic way around a reader role.
_DEFINER_FUNCTIONS = f"""
SELECT count(*) AS n,
       (array_agg(quote_ident(n.nspname) || '.' || quote_ident(p.proname)
                  ORDER BY n.nspname, p.proname))[1:{_SAMPLE}] AS sample
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_roles o ON o.oid = p.proowner
WHERE p.prosecdef AND o.rolname <> current_user AND {_SYSTEM_SCHEMAS}
  AND has_function_privilege(p.oid, 'EXECUTE')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid
                  AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e')
"""


@dataclass(frozen=True)
class RoleFinding:
    """One privilege a read-only business role should not have."""

    code: str  # stable identifier, e.g. "superuser", "write_privilege"
    detail: str  # what was found and why it matters, for operators

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class RoleReport:
    role: str
    findings: tuple[RoleFinding, ...]

    @property
    def ok(self) -> bool:
        return not self.findings


def _names(sample: list[str] | None, count: int) -> str:
    shown = ", ".join(sample or [])
    return shown + (f" 等 {count} 个" if count > len(sample or []) else "")


async def inspect_business_role(conn: asyncpg.Connection) -> RoleReport:
    """Everything ``conn``'s role could do besides reading; an empty report is a reader."""
    role = await conn.fetchval("SELECT current_user")
    attrs = await conn.fetchrow(_ATTRIBUTES)
    findings = _attribute_findings(attrs)
    if attrs is not None and attrs["rolsuper"]:
        # A superuser passes every check below; listing them adds nothing.
        return RoleReport(role, tuple(findings))
    findings += await _write_findings(conn)
    findings += await _membership_findings(conn)
    findings += await _escape_route_findings(conn)
    return RoleReport(role, tuple(findings))


def _attribute_findings(attrs: asyncpg.Record | None) -> list[RoleFinding]:
    """The role attributes (superuser, CREATEROLE, ...) that make it more than a reader."""
    if attrs is None:
        return []
    flags = [
        ("rolsuper", "superuser", "超级用户：可读写服务器文件、执行程序、修改任何数据"),
        ("rolcreaterole", "createrole", "CREATEROLE：可创建角色并授予自身更多权限"),
        ("rolcreatedb", "createdb", "CREATEDB：可创建数据库"),
        ("rolreplication", "replication", "REPLICATION：可建立复制连接"),
        ("rolbypassrls", "bypassrls", "BYPASSRLS：绕过行级安全策略"),
    ]
    return [RoleFinding(code, detail) for column, code, detail in flags if attrs[column]]


async def _write_findings(conn: asyncpg.Connection) -> list[RoleFinding]:
    """Write, sequence, ownership and CREATE privileges on the business objects."""
    findings = [
        RoleFinding(
            "write_privilege", f"对表有 {row['priv']} 权限：{_names(row['sample'], row['n'])}"
        )
        for row in await conn.fetch(_TABLE_WRITES)
    ]
    add = findings.append
    sequences = await conn.fetchrow(_SEQUENCE_WRITES)
    if sequences["n"]:
        text = _names(sequences["sample"], sequences["n"])
        add(RoleFinding("sequence_write", f"可推进或重置序列（USAGE/UPDATE）：{text}"))
    owned = await conn.fetchrow(_OWNED)
    if owned["n"]:
        text = _names(owned["sample"], owned["n"])
        add(RoleFinding("owns_objects", f"是这些对象的所有者（可修改或删除）：{text}"))
    schemas = await conn.fetchval(_CREATE_SCHEMAS)
    if schemas:
        add(RoleFinding("create_schema", f"可在模式中创建对象（CREATE）：{', '.join(schemas)}"))
    if await conn.fetchval("SELECT has_database_privilege(current_database(), 'CREATE')"):
        add(RoleFinding("create_database_objects", "可在当前数据库中创建模式（CREATE）"))
    return findings


async def _membership_findings(conn: asyncpg.Connection) -> list[RoleFinding]:
    """Memberships in privileged predefined roles or in a superuser role."""
    findings = [
        RoleFinding(
            f"member_{row['rolname']}",
            f"{row['rolname']} 成员：{PRIVILEGED_BUILTIN_ROLES[row['rolname']]}",
        )
        for row in await conn.fetch(_MEMBERSHIPS, list(PRIVILEGED_BUILTIN_ROLES))
    ]
    supers = await conn.fetchval(_SUPERUSER_MEMBERSHIPS)
    if supers:
        findings.append(
            RoleFinding("superuser_membership", f"可切换为超级用户角色：{', '.join(supers)}")
        )
    return findings


async def _escape_route_findings(conn: asyncpg.Connection) -> list[RoleFinding]:
    """Ways out of a read-only session: second connections and functions run as others."""
    findings: list[RoleFinding] = []
    add = findings.append
    if await conn.fetchval(_DBLINK):
        add(RoleFinding("dblink", "可执行 dblink 函数：可打开另一个可写连接"))
    servers = await conn.fetchval(_FOREIGN_SERVERS)
    if servers:
        text = ", ".join(servers)
        add(RoleFinding("foreign_server", f"可使用外部服务器（postgres_fdw 等）：{text}"))
    wrappers = await conn.fetchval(_FOREIGN_WRAPPERS)
    if wrappers:
        text = ", ".join(wrappers)
        add(RoleFinding("foreign_data_wrapper", f"可用外部数据包装器创建外部服务器：{text}"))
    definers = await conn.fetchrow(_DEFINER_FUNCTIONS)
    if definers["n"]:
        text = _names(definers["sample"], definers["n"])
        add(RoleFinding("security_definer", f"可执行以其他角色权限运行的函数：{text}"))
    return findings
