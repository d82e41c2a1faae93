"""Demo business database: highway service areas in Jiangxi (高速公路服务区).

Used when no business database is configured, so citu answers questions out of the box.
All data is generated deterministically (fixed seed, fixed end date), so answers are stable
across installs and can be asserted in tests.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from importlib.resources import files

import asyncpg

from citu.db.locks import AdvisoryLock

log = logging.getLogger(__name__)

# Parent tables first: this is also the load order (foreign keys).
DEMO_TABLES: tuple[str, ...] = (
    "bss_company",
    "bss_service_area",
    "bss_section_route",
    "bss_section_route_area_link",
    "bss_branch",
    "bss_service_area_mapper",
    "bss_business_day_data",
    "bss_car_day_count",
)

DEMO_SEED = 20250331
DEMO_END_DATE = date(2025, 3, 31)
DEMO_DAYS = 90  # 2025-01-01 .. 2025-03-31, covers the 2025 Spring Festival travel rush

# Any fixed bigint; serialises concurrent installers (two workers starting at once).

_AUDIT = ("id", "version", "create_ts", "created_by")

# (company_no, company_name)
_COMPANIES = (
    ("H01", "赣北片区服务区管理有限公司"),
    ("H02", "赣中片区服务区管理有限公司"),
    ("H03", "赣南片区服务区管理有限公司"),
)

# (name, company_no, longitude, latitude, business scale, type)
_AREAS = (
    ("庐山服务区", "H01", 115.99, 29.52, 1.6, "智能化服务区"),
    ("永修服务区", "H01", 115.81, 29.02, 1.0, "信息化服务区"),
    ("德安服务区", "H01", 115.76, 29.33, 0.8, "信息化服务区"),
    ("九江服务区", "H01", 116.00, 29.70, 1.3, "智能化服务区"),
    ("婺源服务区", "H01", 117.86, 29.25, 1.2, "信息化服务区"),
    ("景德镇服务区", "H01", 117.18, 29.27, 1.1, "信息化服务区"),
    ("三清山服务区", "H02", 118.06, 28.90, 1.4, "智能化服务区"),
    ("上饶服务区", "H02", 117.94, 28.45, 1.1, "信息化服务区"),
    ("鹰潭服务区", "H02", 117.03, 28.24, 1.0, "信息化服务区"),
    ("南昌西服务区", "H02", 115.80, 28.65, 1.5, "智能化服务区"),
    ("樟树服务区", "H02", 115.54, 28.06, 0.9, "信息化服务区"),
    ("宜春服务区", "H02", 114.40, 27.81, 0.9, "信息化服务区"),
    ("萍乡服务区", "H02", 113.85, 27.62, 0.8, "信息化服务区"),
    ("南城服务区", "H02", 116.64, 27.56, 1.3, "智能化服务区"),
    ("抚州服务区", "H02", 116.36, 27.95, 0.8, "信息化服务区"),
    ("吉安服务区", "H03", 114.99, 27.11, 1.0, "信息化服务区"),
    ("井冈山服务区", "H03", 114.29, 26.75, 1.2, "智能化服务区"),
    ("泰和服务区", "H03", 114.91, 26.79, 0.7, "信息化服务区"),
    ("瑞金服务区", "H03", 116.03, 25.88, 0.9, "信息化服务区"),
    ("龙南服务区", "H03", 114.79, 24.91, 0.8, "信息化服务区"),
)

# (code, section_name, route_name, service areas on the section)
_ROUTES = (
    ("SR01", "昌九段", "G70福银高速", ("永修服务区", "德安服务区", "庐山服务区", "九江服务区")),
    ("SR02", "九景段", "G56杭瑞高速", ("九江服务区", "景德镇服务区")),
    ("SR03", "景婺黄段", "G56杭瑞高速", ("景德镇服务区", "婺源服务区")),
    ("SR04", "梨温段", "G60沪昆高速", ("三清山服务区", "上饶服务区", "鹰潭服务区")),
    ("SR05", "昌金段", "G60沪昆高速", ("南昌西服务区", "樟树服务区", "宜春服务区", "萍乡服务区")),
    ("SR06", "抚南段", "G70福银高速", ("抚州服务区", "南城服务区")),
    ("SR07", "樟吉段", "G45大广高速", ("樟树服务区", "吉安服务区", "泰和服务区")),
    ("SR08", "泰赣段", "G45大广高速", ("泰和服务区", "龙南服务区")),
    ("SR09", "吉瑞段", "G72泉南高速", ("井冈山服务区", "瑞金服务区")),
)

# classify -> (base daily revenue in yuan, average ticket in yuan)
_BRANCH_KINDS = {
    "便利店": (9000, 28),
    "餐饮": (7000, 45),
    "小吃": (3500, 18),
    "咖啡饮品": (1800, 22),
    "地方特产": (2500, 80),
    "水果": (1500, 25),
}
_OPTIONAL_KINDS = ("小吃", "咖啡饮品", "地方特产", "水果")

# (amount column, order-count column, typical share of revenue): 微信 支付宝 现金 行吧 金豆
_PAYMENTS = (
    ("wx", "wx_order", 0.55),
    ("zfb", "zf_order", 0.22),
    ("rmb", "rmb_order", 0.08),
    ("xs", "xs_order", 0.10),
    ("jd", "jd_order", 0.05),
)

# car_type -> share of the daily vehicles entering a service area
_CAR_TYPES = (("客车", 0.62), ("货车", 0.25), ("过境", 0.08), ("危化品", 0.01), ("城际", 0.04))

_SPRING_PEAK = (date(2025, 1, 25), date(2025, 2, 6))  # 春节前后出行高峰
_SPRING_RUSH = (date(2025, 1, 14), date(2025, 2, 22))  # 2025年春运


@dataclass
class DemoTable:
    columns: tuple[str, ...]
    rows: list[tuple] = field(default_factory=list)


@dataclass(frozen=True)
class _Area:
    id: str
    no: str
    name: str
    company_id: str
    scale: float


@dataclass(frozen=True)
class _Branch:
    id: str
    no: str
    name: str
    kind: str
    area: _Area


async def install_demo(conn: asyncpg.Connection) -> dict[str, int]:
    """Create the demo schema and, if its tables are empty, fill them. Idempotent."""
    schema = (files("citu.db") / "sql" / "demo_schema.sql").read_text(encoding="utf-8")
    # One transaction: PostgreSQL DDL is transactional, so a crash leaves nothing behind.
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", AdvisoryLock.DEMO_DATABASE)
        await conn.execute(schema)
        filled = await _filled_tables(conn)
        if not filled:
            await _load(conn, build_demo_data())
            # Statistics now, not at autovacuum's leisure: the live-schema prompt reads the
            # columns' distinct values from them.
            await conn.execute("ANALYZE " + ", ".join(DEMO_TABLES))
        elif len(filled) < len(DEMO_TABLES):
            # Someone edited the demo by hand; never mix generated rows into it.
            log.warning("demo tables partly filled (%s); not loading demo data", filled)
    return await table_counts(conn)


async def table_counts(conn: asyncpg.Connection) -> dict[str, int]:
    """Row count of every demo table."""
    return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in DEMO_TABLES}


async def _filled_tables(conn: asyncpg.Connection) -> list[str]:
    return [t for t in DEMO_TABLES if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {t})")]


async def _load(conn: asyncpg.Connection, data: dict[str, DemoTable]) -> None:
    # COPY: one round trip per table instead of one per row for the ~16k daily rows.
    for name in DEMO_TABLES:
        table = data[name]
        await conn.copy_records_to_table(name, records=table.rows, columns=table.columns)


def build_demo_data(
    seed: int = DEMO_SEED, end: date = DEMO_END_DATE, days: int = DEMO_DAYS
) -> dict[str, DemoTable]:
    """Generate every demo table in memory; same arguments give identical rows."""
    rng = random.Random(seed)
    dates = [end - timedelta(days=n) for n in range(days - 1, -1, -1)]
    out: dict[str, DemoTable] = {}
    companies = _companies(rng, out)
    areas = _areas(rng, out, companies)
    _routes(rng, out, areas)
    branches = _branches(rng, out, areas, companies)
    _mappers(rng, out, areas)
    _business_days(rng, out, branches, dates)
    _car_counts(rng, out, areas, dates)
    return out


# --- generators -------------------------------------------------------------------------


def _new_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def _audit(rng: random.Random, created: datetime, by: str = "admin") -> tuple:
    return (_new_id(rng), 1, created, by)


def _setup_ts(rng: random.Random, year: int) -> datetime:
    """A working-hours timestamp in `year`, for master data created by an administrator."""
    day = date(year, 1, 1) + timedelta(days=rng.randrange(360))
    return datetime.combine(day, time(rng.randint(9, 17), rng.randrange(60), rng.randrange(60)))


def _upload_ts(rng: random.Random, day: date) -> datetime:
    """Daily figures are uploaded by the nightly batch in the small hours of the next day."""
    return datetime.combine(day + timedelta(days=1), time(1, rng.randrange(60), rng.randrange(60)))


def _companies(rng: random.Random, out: dict[str, DemoTable]) -> dict[str, tuple[str, str]]:
    table = out["bss_company"] = DemoTable((*_AUDIT, "company_name", "company_no"))
    by_no: dict[str, tuple[str, str]] = {}
    for no, name in _COMPANIES:
        row = (*_audit(rng, _setup_ts(rng, 2021)), name, no)
        table.rows.append(row)
        by_no[no] = (row[0], name)
    return by_no


def _areas(
    rng: random.Random, out: dict[str, DemoTable], companies: dict[str, tuple[str, str]]
) -> list[_Area]:
    cols = ("service_area_name", "service_area_no", "company_id", "service_position")
    table = out["bss_service_area"] = DemoTable(
        (*_AUDIT, *cols, "service_area_type", "service_state")
    )
    areas: list[_Area] = []
    seq: dict[str, int] = {}
    for name, cno, lon, lat, scale, kind in _AREAS:
        seq[cno] = seq.get(cno, 0) + 1
        area_no = f"{cno}{seq[cno]:02d}"
        company_id = companies[cno][0]
        row = (
            *_audit(rng, _setup_ts(rng, 2021)),
            name,
            area_no,
            company_id,
            f"{lon + rng.uniform(-0.01, 0.01):.6f},{lat + rng.uniform(-0.01, 0.01):.6f}",
            kind,
            "开放",
        )
        table.rows.append(row)
        areas.append(_Area(row[0], area_no, name, company_id, scale))
    return areas


def _routes(rng: random.Random, out: dict[str, DemoTable], areas: list[_Area]) -> None:
    routes = out["bss_section_route"] = DemoTable((*_AUDIT, "section_name", "route_name", "code"))
    links = out["bss_section_route_area_link"] = DemoTable(("section_route_id", "service_area_id"))
    area_ids = {a.name: a.id for a in areas}
    for code, section, route, on_section in _ROUTES:
        row = (*_audit(rng, _setup_ts(rng, 2021)), section, route, code)
        routes.rows.append(row)
        links.rows.extend((row[0], area_ids[name]) for name in on_section)


def _branches(
    rng: random.Random,
    out: dict[str, DemoTable],
    areas: list[_Area],
    companies: dict[str, tuple[str, str]],
) -> list[_Branch]:
    cols = ("branch_name", "branch_no", "classify", "service_area_id", "service_name")
    table = out["bss_branch"] = DemoTable((*_AUDIT, *cols, "company_id", "company_name"))
    company_names = dict(companies.values())
    branches: list[_Branch] = []
    for area in areas:
        # Every area has a shop and a restaurant; bigger areas host more optional outlets.
        extra = min(len(_OPTIONAL_KINDS), int(area.scale * 2 + rng.random()))
        kinds = ["便利店", "餐饮", *rng.sample(_OPTIONAL_KINDS, extra)]
        for n, kind in enumerate(kinds, start=1):
            name = area.name.removesuffix("服务区") + kind
            no = f"{area.no}{n:02d}"
            row = (
                *_audit(rng, _setup_ts(rng, 2023)),
                *(name, no, kind, area.id, area.name),
                *(area.company_id, company_names[area.company_id]),
            )
            table.rows.append(row)
            branches.append(_Branch(row[0], no, name, kind, area))
    return branches


def _mappers(rng: random.Random, out: dict[str, DemoTable], areas: list[_Area]) -> None:
    cols = ("service_name", "service_no", "service_area_id", "source_system_type", "source_type")
    table = out["bss_service_area_mapper"] = DemoTable((*_AUDIT, *cols))
    for i, area in enumerate(areas, start=1):
        short = area.name.removesuffix("服务区")
        ts = _setup_ts(rng, 2022)
        table.rows.append((*_audit(rng, ts), area.name, f"SY{i:04d}", area.id, "收银系统", 1))
        table.rows.append(
            (*_audit(rng, ts), f"{short}(双向)", f"CL{i:04d}", area.id, "车流监测系统", 2)
        )


def _day_factor(day: date) -> float:
    """Traffic multiplier: Spring Festival peak > 元旦 > rest of 春运 > weekends > ordinary days."""
    if _SPRING_PEAK[0] <= day <= _SPRING_PEAK[1]:
        return 1.9
    if (day.month, day.day) == (1, 1):  # 元旦
        return 1.4
    factor = 1.3 if _SPRING_RUSH[0] <= day <= _SPRING_RUSH[1] else 1.0
    return factor * (1.2 if day.weekday() >= 5 else 1.0)


def _yuan(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def _split_payments(rng: random.Random, total_cents: int, ticket: float) -> list:
    """Split a day's takings over the payment methods: [amount, orders] per method."""
    weights = [share * rng.uniform(0.7, 1.3) for *_, share in _PAYMENTS]
    scale = total_cents / sum(weights)
    cents = [int(w * scale) for w in weights[:-1]]
    cents.append(total_cents - sum(cents))  # remainder keeps pay_sum exact to the cent
    values: list = []
    for amount in cents:
        orders = max(1, round(amount / 100 / ticket * rng.uniform(0.85, 1.15)))
        values += [_yuan(amount), orders]
    return values


def _business_days(
    rng: random.Random, out: dict[str, DemoTable], branches: list[_Branch], dates: list[date]
) -> None:
    amounts = [c for amount, orders, _ in _PAYMENTS for c in (amount, orders)]
    keys = ("oper_date", "service_area_id", "service_no", "service_name")
    branch_cols = ("branch_id", "branch_no", "branch_name")
    table = out["bss_business_day_data"] = DemoTable(
        (*_AUDIT, *keys, *branch_cols, *amounts, "order_sum", "pay_sum", "source_type")
    )
    for day in dates:
        for b in branches:
            base, ticket = _BRANCH_KINDS[b.kind]
            noise = min(1.5, max(0.6, rng.gauss(1.0, 0.12)))
            total = round(base * b.area.scale * _day_factor(day) * noise * 100)
            pays = _split_payments(rng, total, ticket)
            manual = rng.random() < 0.03  # a few days keyed in by hand after a till outage
            table.rows.append(
                (
                    *_audit(rng, _upload_ts(rng, day), "admin" if manual else "system"),
                    *(day, b.area.id, b.area.no, b.area.name, b.id, b.no, b.name),
                    *pays,
                    sum(pays[1::2]),
                    _yuan(total),
                    2 if manual else 1,
                )
            )


def _car_type_factor(car_type: str, day: date) -> float:
    """Holidays bring passenger cars; freight and hazardous goods stop over Spring Festival."""
    factor = _day_factor(day)
    if car_type in ("客车", "城际"):
        return factor
    if car_type == "过境":
        return factor**0.5
    return 0.6 if factor > 1.5 else 1.0


def _car_counts(
    rng: random.Random, out: dict[str, DemoTable], areas: list[_Area], dates: list[date]
) -> None:
    table = out["bss_car_day_count"] = DemoTable(
        (*_AUDIT, "count_date", "service_area_id", "car_type", "customer_count")
    )
    for day in dates:
        for area in areas:
            traffic = 4000 * area.scale * rng.uniform(0.9, 1.1)  # ~4,000 vehicles on a normal day
            for car_type, share in _CAR_TYPES:
                mult = _car_type_factor(car_type, day) * rng.uniform(0.85, 1.15)
                count = round(traffic * share * mult)
                table.rows.append(
                    (*_audit(rng, _upload_ts(rng, day), "system"), day, area.id, car_type, count)
                )
