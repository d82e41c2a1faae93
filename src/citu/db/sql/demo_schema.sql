-- citu demo business database: highway service areas (高速公路服务区经营管理).
-- Idempotent: safe to run on every start-up. Data is loaded by citu.db.demo.install_demo.
-- Every table carries the same audit columns (id, version, create/update/delete stamps);
-- rows with a non-NULL delete_ts are soft-deleted and must be excluded from analysis.

-- 公司 -------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS bss_company (
    id            varchar(32)  NOT NULL PRIMARY KEY,
    version       integer      NOT NULL DEFAULT 1,
    create_ts     timestamp    NOT NULL DEFAULT now(),
    created_by    varchar(50),
    update_ts     timestamp,
    updated_by    varchar(50),
    delete_ts     timestamp,
    deleted_by    varchar(50),
    company_name  varchar(255) NOT NULL,
    company_no    varchar(255) NOT NULL
);
COMMENT ON TABLE  bss_company IS '公司信息表：负责经营管理高速公路服务区的片区管理公司';
COMMENT ON COLUMN bss_company.id IS '公司唯一标识，主键（32位十六进制字符串）';
COMMENT ON COLUMN bss_company.version IS '数据版本号，每次修改加1';
COMMENT ON COLUMN bss_company.create_ts IS '创建时间';
COMMENT ON COLUMN bss_company.created_by IS '创建人';
COMMENT ON COLUMN bss_company.update_ts IS '最后更新时间';
COMMENT ON COLUMN bss_company.updated_by IS '最后更新人';
COMMENT ON COLUMN bss_company.delete_ts IS '删除时间，非空表示已逻辑删除';
COMMENT ON COLUMN bss_company.deleted_by IS '删除人';
COMMENT ON COLUMN bss_company.company_name IS '公司名称，如“赣北片区服务区管理有限公司”';
COMMENT ON COLUMN bss_company.company_no IS '公司编码，如 H01、H02、H03';

-- 服务区 -----------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS bss_service_area (
    id                 varchar(32)  NOT NULL PRIMARY KEY,
    version            integer      NOT NULL DEFAULT 1,
    create_ts          timestamp    NOT NULL DEFAULT now(),
    created_by         varchar(50),
    update_ts          timestamp,
    updated_by         varchar(50),
    delete_ts          timestamp,
    deleted_by         varchar(50),
    service_area_name  varchar(255) NOT NULL,
    service_area_no    varchar(255) NOT NULL,
    company_id         varchar(32)  NOT NULL REFERENCES bss_company (id),
    service_position   varchar(255),
    service_area_type  varchar(50),
    service_state      varchar(50)
);
COMMENT ON TABLE  bss_service_area IS '服务区基础信息表：高速公路服务区名称、编码、所属公司、位置、类型与营业状态';
COMMENT ON COLUMN bss_service_area.id IS '服务区唯一标识，主键';
COMMENT ON COLUMN bss_service_area.version IS '数据版本号，每次修改加1';
COMMENT ON COLUMN bss_service_area.create_ts IS '创建时间';
COMMENT ON COLUMN bss_service_area.created_by IS '创建人';
COMMENT ON COLUMN bss_service_area.update_ts IS '最后更新时间';
COMMENT ON COLUMN bss_service_area.updated_by IS '最后更新人';
COMMENT ON COLUMN bss_service_area.delete_ts IS '删除时间，非空表示已逻辑删除';
COMMENT ON COLUMN bss_service_area.deleted_by IS '删除人';
COMMENT ON COLUMN bss_service_area.service_area_name IS '服务区名称，如“庐山服务区”';
COMMENT ON COLUMN bss_service_area.service_area_no IS '服务区编码，如 H0101';
COMMENT ON COLUMN bss_service_area.company_id IS '所属公司ID，关联 bss_company.id';
COMMENT ON COLUMN bss_service_area.service_position IS '服务区经纬度坐标，格式“经度,纬度”';
COMMENT ON COLUMN bss_service_area.service_area_type IS '服务区类型：信息化服务区、智能化服务区';
COMMENT ON COLUMN bss_service_area.service_state IS '营业状态：开放、关闭';
CREATE INDEX IF NOT EXISTS idx_bss_service_area_company ON bss_service_area (company_id);

-- 路段/路线 ---------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS bss_section_route (
    id            varchar(32)  NOT NULL PRIMARY KEY,
    version       integer      NOT NULL DEFAULT 1,
    create_ts     timestamp    NOT NULL DEFAULT now(),
    created_by    varchar(50),
    update_ts     timestamp,
    updated_by    varchar(50),
    delete_ts     timestamp,
    deleted_by    varchar(50),
    section_name  varchar(255) NOT NULL,
    route_name    varchar(255) NOT NULL,
    code          varchar(255)
);
COMMENT ON TABLE  bss_section_route IS '路段路线表：高速公路路段及其所属路线（国家高速编号）';
COMMENT ON COLUMN bss_section_route.id IS '路段路线唯一标识，主键';
COMMENT ON COLUMN bss_section_route.version IS '数据版本号，每次修改加1';
COMMENT ON COLUMN bss_section_route.create_ts IS '创建时间';
COMMENT ON COLUMN bss_section_route.created_by IS '创建人';
COMMENT ON COLUMN bss_section_route.update_ts IS '最后更新时间';
COMMENT ON COLUMN bss_section_route.updated_by IS '最后更新人';
COMMENT ON COLUMN bss_section_route.delete_ts IS '删除时间，非空表示已逻辑删除';
COMMENT ON COLUMN bss_section_route.deleted_by IS '删除人';
COMMENT ON COLUMN bss_section_route.section_name IS '路段名称，如“昌九段”';
COMMENT ON COLUMN bss_section_route.route_name IS '路线名称，如“G70福银高速”';
COMMENT ON COLUMN bss_section_route.code IS '路段编码，如 SR01';

-- 路段与服务区关联 ----------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS bss_section_route_area_link (
    section_route_id  varchar(32) NOT NULL REFERENCES bss_section_route (id),
    service_area_id   varchar(32) NOT NULL REFERENCES bss_service_area (id),
    PRIMARY KEY (section_route_id, service_area_id)
);
COMMENT ON TABLE  bss_section_route_area_link IS '路段与服务区关联表：记录每个路段上分布的服务区（多对多）';
COMMENT ON COLUMN bss_section_route_area_link.section_route_id IS '路段路线ID，关联 bss_section_route.id';
COMMENT ON COLUMN bss_section_route_area_link.service_area_id IS '服务区ID，关联 bss_service_area.id';
CREATE INDEX IF NOT EXISTS idx_bss_route_link_area ON bss_section_route_area_link (service_area_id);

-- 档口 -------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS bss_branch (
    id               varchar(32)  NOT NULL PRIMARY KEY,
    version          integer      NOT NULL DEFAULT 1,
    create_ts        timestamp    NOT NULL DEFAULT now(),
    created_by       varchar(50),
    update_ts        timestamp,
    updated_by       varchar(50),
    delete_ts        timestamp,
    deleted_by       varchar(50),
    branch_name      varchar(255) NOT NULL,
    branch_no        varchar(255) NOT NULL,
    classify         varchar(50),
    service_area_id  varchar(32)  NOT NULL REFERENCES bss_service_area (id),
    service_name     varchar(255),
    company_id       varchar(32)  REFERENCES bss_company (id),
    company_name     varchar(255)
);
COMMENT ON TABLE  bss_branch IS '档口信息表：服务区内的经营档口（便利店、餐饮、小吃等）';
COMMENT ON COLUMN bss_branch.id IS '档口唯一标识，主键';
COMMENT ON COLUMN bss_branch.version IS '数据版本号，每次修改加1';
COMMENT ON COLUMN bss_branch.create_ts IS '创建时间';
COMMENT ON COLUMN bss_branch.created_by IS '创建人';
COMMENT ON COLUMN bss_branch.update_ts IS '最后更新时间';
COMMENT ON COLUMN bss_branch.updated_by IS '最后更新人';
COMMENT ON COLUMN bss_branch.delete_ts IS '删除时间，非空表示已逻辑删除';
COMMENT ON COLUMN bss_branch.deleted_by IS '删除人';
COMMENT ON COLUMN bss_branch.branch_name IS '档口名称，如“便利店”“小吃”';
COMMENT ON COLUMN bss_branch.branch_no IS '档口编码，服务区编码加两位序号，如 H010101';
COMMENT ON COLUMN bss_branch.classify IS '档口业态：便利店、餐饮、小吃、咖啡饮品、地方特产、水果';
COMMENT ON COLUMN bss_branch.service_area_id IS '所属服务区ID，关联 bss_service_area.id';
COMMENT ON COLUMN bss_branch.service_name IS '所属服务区名称（冗余字段）';
COMMENT ON COLUMN bss_branch.company_id IS '所属公司ID，关联 bss_company.id';
COMMENT ON COLUMN bss_branch.company_name IS '所属公司名称（冗余字段）';
CREATE INDEX IF NOT EXISTS idx_bss_branch_area ON bss_branch (service_area_id);
CREATE INDEX IF NOT EXISTS idx_bss_branch_company ON bss_branch (company_id);

-- 档口日营业数据 -------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS bss_business_day_data (
    id               varchar(32)   NOT NULL PRIMARY KEY,
    version          integer       NOT NULL DEFAULT 1,
    create_ts        timestamp     NOT NULL DEFAULT now(),
    created_by       varchar(50),
    update_ts        timestamp,
    updated_by       varchar(50),
    delete_ts        timestamp,
    deleted_by       varchar(50),
    oper_date        date          NOT NULL,
    service_area_id  varchar(32)   NOT NULL REFERENCES bss_service_area (id),
    service_no       varchar(255),
    service_name     varchar(255),
    branch_id        varchar(32)   NOT NULL REFERENCES bss_branch (id),
    branch_no        varchar(255),
    branch_name      varchar(255),
    wx               numeric(18,2) NOT NULL DEFAULT 0,
    wx_order         integer       NOT NULL DEFAULT 0,
    zfb              numeric(18,2) NOT NULL DEFAULT 0,
    zf_order         integer       NOT NULL DEFAULT 0,
    rmb              numeric(18,2) NOT NULL DEFAULT 0,
    rmb_order        integer       NOT NULL DEFAULT 0,
    xs               numeric(18,2) NOT NULL DEFAULT 0,
    xs_order         integer       NOT NULL DEFAULT 0,
    jd               numeric(18,2) NOT NULL DEFAULT 0,
    jd_order         integer       NOT NULL DEFAULT 0,
    order_sum        integer       NOT NULL DEFAULT 0,
    pay_sum          numeric(18,2) NOT NULL DEFAULT 0,
    source_type      smallint
);
COMMENT ON TABLE  bss_business_day_data IS '档口日营业数据表：每个服务区每个档口每天的分支付方式营收金额（元）与订单数';
COMMENT ON COLUMN bss_business_day_data.id IS '营业数据唯一标识，主键';
COMMENT ON COLUMN bss_business_day_data.version IS '数据版本号，每次修改加1';
COMMENT ON COLUMN bss_business_day_data.create_ts IS '创建时间（数据上报时间）';
COMMENT ON COLUMN bss_business_day_data.created_by IS '创建人';
COMMENT ON COLUMN bss_business_day_data.update_ts IS '最后更新时间';
COMMENT ON COLUMN bss_business_day_data.updated_by IS '最后更新人';
COMMENT ON COLUMN bss_business_day_data.delete_ts IS '删除时间，非空表示已逻辑删除，统计时应排除';
COMMENT ON COLUMN bss_business_day_data.deleted_by IS '删除人';
COMMENT ON COLUMN bss_business_day_data.oper_date IS '营业日期';
COMMENT ON COLUMN bss_business_day_data.service_area_id IS '服务区ID，关联 bss_service_area.id';
COMMENT ON COLUMN bss_business_day_data.service_no IS '服务区编码（冗余字段）';
COMMENT ON COLUMN bss_business_day_data.service_name IS '服务区名称（冗余字段），如“庐山服务区”';
COMMENT ON COLUMN bss_business_day_data.branch_id IS '档口ID，关联 bss_branch.id';
COMMENT ON COLUMN bss_business_day_data.branch_no IS '档口编码（冗余字段）';
COMMENT ON COLUMN bss_business_day_data.branch_name IS '档口名称（冗余字段）';
COMMENT ON COLUMN bss_business_day_data.wx IS '微信支付金额（元）';
COMMENT ON COLUMN bss_business_day_data.wx_order IS '微信支付订单数';
COMMENT ON COLUMN bss_business_day_data.zfb IS '支付宝支付金额（元）';
COMMENT ON COLUMN bss_business_day_data.zf_order IS '支付宝支付订单数';
COMMENT ON COLUMN bss_business_day_data.rmb IS '现金支付金额（元）';
COMMENT ON COLUMN bss_business_day_data.rmb_order IS '现金支付订单数';
COMMENT ON COLUMN bss_business_day_data.xs IS '行吧支付金额（元）';
COMMENT ON COLUMN bss_business_day_data.xs_order IS '行吧支付订单数';
COMMENT ON COLUMN bss_business_day_data.jd IS '金豆支付金额（元）';
COMMENT ON COLUMN bss_business_day_data.jd_order IS '金豆支付订单数';
COMMENT ON COLUMN bss_business_day_data.order_sum IS '订单总数（各支付方式订单数之和）';
COMMENT ON COLUMN bss_business_day_data.pay_sum IS '营收总金额（元，各支付方式金额之和）';
COMMENT ON COLUMN bss_business_day_data.source_type IS '数据来源：1 收银系统自动上报，2 人工补录';
CREATE UNIQUE INDEX IF NOT EXISTS uq_bss_business_day_branch_date
    ON bss_business_day_data (branch_id, oper_date);
CREATE INDEX IF NOT EXISTS idx_bss_business_day_date ON bss_business_day_data (oper_date);
CREATE INDEX IF NOT EXISTS idx_bss_business_day_area_date
    ON bss_business_day_data (service_area_id, oper_date);

-- 服务区车流量 --------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS bss_car_day_count (
    id               varchar(32) NOT NULL PRIMARY KEY,
    version          integer     NOT NULL DEFAULT 1,
    create_ts        timestamp   NOT NULL DEFAULT now(),
    created_by       varchar(50),
    update_ts        timestamp,
    updated_by       varchar(50),
    delete_ts        timestamp,
    deleted_by       varchar(50),
    count_date       date        NOT NULL,
    service_area_id  varchar(32) NOT NULL REFERENCES bss_service_area (id),
    car_type         varchar(50) NOT NULL,
    customer_count   integer     NOT NULL DEFAULT 0
);
COMMENT ON TABLE  bss_car_day_count IS '服务区车流量日统计表：每个服务区每天按车辆类型统计的驶入车辆数';
COMMENT ON COLUMN bss_car_day_count.id IS '车流量记录唯一标识，主键';
COMMENT ON COLUMN bss_car_day_count.version IS '数据版本号，每次修改加1';
COMMENT ON COLUMN bss_car_day_count.create_ts IS '创建时间（数据上报时间）';
COMMENT ON COLUMN bss_car_day_count.created_by IS '创建人';
COMMENT ON COLUMN bss_car_day_count.update_ts IS '最后更新时间';
COMMENT ON COLUMN bss_car_day_count.updated_by IS '最后更新人';
COMMENT ON COLUMN bss_car_day_count.delete_ts IS '删除时间，非空表示已逻辑删除，统计时应排除';
COMMENT ON COLUMN bss_car_day_count.deleted_by IS '删除人';
COMMENT ON COLUMN bss_car_day_count.count_date IS '统计日期';
COMMENT ON COLUMN bss_car_day_count.service_area_id IS '服务区ID，关联 bss_service_area.id';
COMMENT ON COLUMN bss_car_day_count.car_type IS '车辆类型：客车、货车、过境、危化品、城际';
COMMENT ON COLUMN bss_car_day_count.customer_count IS '驶入车辆数（辆）';
CREATE UNIQUE INDEX IF NOT EXISTS uq_bss_car_day_area_date_type
    ON bss_car_day_count (service_area_id, count_date, car_type);
CREATE INDEX IF NOT EXISTS idx_bss_car_day_date ON bss_car_day_count (count_date);

-- 服务区外部系统映射 ----------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS bss_service_area_mapper (
    id                  varchar(32)  NOT NULL PRIMARY KEY,
    version             integer      NOT NULL DEFAULT 1,
    create_ts           timestamp    NOT NULL DEFAULT now(),
    created_by          varchar(50),
    update_ts           timestamp,
    updated_by          varchar(50),
    delete_ts           timestamp,
    deleted_by          varchar(50),
    service_name        varchar(255) NOT NULL,
    service_no          varchar(255) NOT NULL,
    service_area_id     varchar(32)  NOT NULL REFERENCES bss_service_area (id),
    source_system_type  varchar(50)  NOT NULL,
    source_type         smallint
);
COMMENT ON TABLE  bss_service_area_mapper IS '服务区编码映射表：外部业务系统中的服务区名称/编码与本系统服务区的对应关系';
COMMENT ON COLUMN bss_service_area_mapper.id IS '映射记录唯一标识，主键';
COMMENT ON COLUMN bss_service_area_mapper.version IS '数据版本号，每次修改加1';
COMMENT ON COLUMN bss_service_area_mapper.create_ts IS '创建时间';
COMMENT ON COLUMN bss_service_area_mapper.created_by IS '创建人';
COMMENT ON COLUMN bss_service_area_mapper.update_ts IS '最后更新时间';
COMMENT ON COLUMN bss_service_area_mapper.updated_by IS '最后更新人';
COMMENT ON COLUMN bss_service_area_mapper.delete_ts IS '删除时间，非空表示已逻辑删除';
COMMENT ON COLUMN bss_service_area_mapper.deleted_by IS '删除人';
COMMENT ON COLUMN bss_service_area_mapper.service_name IS '外部系统中的服务区名称';
COMMENT ON COLUMN bss_service_area_mapper.service_no IS '外部系统中的服务区编码';
COMMENT ON COLUMN bss_service_area_mapper.service_area_id IS '对应的服务区ID，关联 bss_service_area.id';
COMMENT ON COLUMN bss_service_area_mapper.source_system_type IS '外部系统名称：收银系统、车流监测系统';
COMMENT ON COLUMN bss_service_area_mapper.source_type IS '外部系统类型编码：1 收银系统，2 车流监测系统';
CREATE INDEX IF NOT EXISTS idx_bss_area_mapper_area ON bss_service_area_mapper (service_area_id);
