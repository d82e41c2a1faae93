"""Ordinary analytic queries over the demo tables (``bss_*``), written as people and LLMs write
them. The guard must accept every one, and its regenerated SQL must return the same columns,
types and rows. Also the workload of ``bench/sql_guard.py``."""

ANALYTIC = [
    # plain aggregates and grouping
    "SELECT count(*) FROM bss_company",
    "SELECT COUNT(*) AS 服务区数量 FROM bss_service_area WHERE delete_ts IS NULL",
    "SELECT service_name AS 服务区名称, SUM(pay_sum) AS 总收入 FROM bss_business_day_data "
    "WHERE delete_ts IS NULL GROUP BY service_name ORDER BY 总收入 DESC NULLS LAST LIMIT 3;",
    "SELECT service_area_type, count(*) FROM bss_service_area GROUP BY service_area_type ORDER BY 1",
    "SELECT service_state, COUNT(DISTINCT company_id) AS companies FROM bss_service_area "
    "GROUP BY service_state ORDER BY service_state NULLS FIRST",
    "SELECT avg(pay_sum), min(pay_sum), max(pay_sum), sum(order_sum) FROM bss_business_day_data",
    "SELECT ROUND(AVG(pay_sum)::numeric, 2) AS avg_pay FROM bss_business_day_data "
    "WHERE oper_date >= DATE '2023-04-01'",
    "SELECT stddev(pay_sum), variance(pay_sum), stddev_pop(wx), var_samp(zfb) FROM bss_business_day_data",
    "SELECT corr(wx, zfb), covar_pop(wx, zfb), regr_slope(pay_sum, order_sum) FROM bss_business_day_data",
    "SELECT bool_and(pay_sum >= 0), bool_or(rmb > 1000), every(order_sum >= 0) FROM bss_business_day_data",
    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY pay_sum) AS median, "
    "percentile_disc(0.9) WITHIN GROUP (ORDER BY pay_sum) FROM bss_business_day_data",
    "SELECT mode() WITHIN GROUP (ORDER BY car_type) FROM bss_car_day_count",
    "SELECT COUNT(*) FILTER (WHERE pay_sum > 10000) AS big, COUNT(*) AS all_rows FROM bss_business_day_data",
    "SELECT string_agg(company_name, '、' ORDER BY company_no) FROM bss_company",
    "SELECT array_agg(DISTINCT car_type ORDER BY car_type) FROM bss_car_day_count",
    "SELECT service_area_id, sum(customer_count) FROM bss_car_day_count GROUP BY service_area_id "
    "HAVING sum(customer_count) > 1000 ORDER BY 2 DESC, 1 LIMIT 5",
    "SELECT car_type, sum(customer_count) FROM bss_car_day_count GROUP BY ROLLUP (car_type) ORDER BY 1",
    "SELECT car_type, count_date, sum(customer_count) FROM bss_car_day_count "
    "WHERE count_date < DATE '2023-04-03' GROUP BY GROUPING SETS ((car_type), (count_date), ()) "
    "ORDER BY 1, 2",
    "SELECT GROUPING(car_type), car_type, sum(customer_count) FROM bss_car_day_count "
    "GROUP BY CUBE (car_type) ORDER BY 2",
    # joins
    "SELECT a.service_area_name, c.company_name FROM bss_service_area a "
    "JOIN bss_company c ON c.id = a.company_id WHERE a.delete_ts IS NULL ORDER BY 1",
    "SELECT c.company_name, COUNT(a.id) FROM bss_company c LEFT JOIN bss_service_area a "
    "ON a.company_id = c.id GROUP BY c.company_name ORDER BY 2 DESC, 1",
    "SELECT r.route_name, count(*) FROM bss_section_route r JOIN bss_section_route_area_link l "
    "ON l.section_route_id = r.id GROUP BY r.route_name ORDER BY 1",
    "SELECT b.branch_name, a.service_area_name FROM bss_branch b "
    "INNER JOIN bss_service_area a USING (id) ORDER BY 1 LIMIT 3",
    "SELECT a.service_area_name, m.source_system_type FROM bss_service_area a "
    "FULL OUTER JOIN bss_service_area_mapper m ON m.service_area_id = a.id ORDER BY 1, 2 LIMIT 10",
    "SELECT x.n, c.company_name FROM (VALUES (1), (2)) AS x(n) CROSS JOIN bss_company c "
    "ORDER BY 1, 2 LIMIT 6",
    "SELECT a.service_area_name, t.total FROM bss_service_area a, LATERAL ("
    "SELECT sum(pay_sum) AS total FROM bss_business_day_data d WHERE d.service_area_id = a.id) t "
    "ORDER BY t.total DESC NULLS LAST LIMIT 5",
    # sub-queries and CTEs
    "SELECT service_area_name FROM bss_service_area WHERE id IN "
    "(SELECT service_area_id FROM bss_car_day_count WHERE customer_count > 5000) ORDER BY 1",
    "SELECT company_name FROM bss_company c WHERE EXISTS "
    "(SELECT 1 FROM bss_service_area a WHERE a.company_id = c.id AND a.service_state = '开放')",
    "SELECT service_area_name FROM bss_service_area WHERE id NOT IN "
    "(SELECT service_area_id FROM bss_service_area_mapper) ORDER BY 1",
    "SELECT (SELECT count(*) FROM bss_branch b WHERE b.service_area_id = a.id) AS branches, "
    "a.service_area_name FROM bss_service_area a ORDER BY 1 DESC, 2 LIMIT 5",
    "WITH daily AS (SELECT oper_date, sum(pay_sum) AS total FROM bss_business_day_data "
    "GROUP BY oper_date) SELECT oper_date, total FROM daily ORDER BY total DESC LIMIT 5",
    "WITH a AS (SELECT service_area_id, sum(pay_sum) s FROM bss_business_day_data GROUP BY 1), "
    "b AS (SELECT service_area_id, sum(customer_count) c FROM bss_car_day_count GROUP BY 1) "
    "SELECT a.service_area_id, round(a.s / NULLIF(b.c, 0), 4) AS per_car FROM a JOIN b USING "
    "(service_area_id) ORDER BY per_car DESC NULLS LAST, 1 LIMIT 5",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT n FROM r",
    "WITH m AS MATERIALIZED (SELECT company_id FROM bss_service_area) SELECT count(*) FROM m",
    "SELECT * FROM (SELECT car_type, sum(customer_count) AS s FROM bss_car_day_count "
    "GROUP BY car_type) t WHERE t.s > 0 ORDER BY s DESC",
    # set operations and VALUES
    "SELECT company_name AS name FROM bss_company UNION SELECT route_name FROM bss_section_route ORDER BY 1",
    "SELECT service_area_id FROM bss_car_day_count INTERSECT SELECT service_area_id "
    "FROM bss_business_day_data ORDER BY 1",
    "SELECT id FROM bss_service_area EXCEPT SELECT service_area_id FROM bss_service_area_mapper ORDER BY 1",
    "SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 2 ORDER BY 1",
    "VALUES (1, 'a'), (2, 'b')",
    # window functions
    "SELECT service_area_id, oper_date, pay_sum, row_number() OVER (PARTITION BY service_area_id "
    "ORDER BY pay_sum DESC, id) AS rn FROM bss_business_day_data ORDER BY 1, 4 LIMIT 10",
    "SELECT car_type, count_date, customer_count, rank() OVER w, dense_rank() OVER w FROM "
    "bss_car_day_count WINDOW w AS (PARTITION BY car_type ORDER BY customer_count DESC) "
    "ORDER BY 1, 4, 2 LIMIT 10",
    "SELECT oper_date, sum(pay_sum) AS s, lag(sum(pay_sum), 1) OVER (ORDER BY oper_date) AS prev, "
    "lead(sum(pay_sum)) OVER (ORDER BY oper_date) FROM bss_business_day_data GROUP BY oper_date "
    "ORDER BY 1 LIMIT 10",
    "SELECT oper_date, sum(sum(pay_sum)) OVER (ORDER BY oper_date ROWS BETWEEN 6 PRECEDING AND "
    "CURRENT ROW) AS rolling FROM bss_business_day_data GROUP BY oper_date ORDER BY 1 LIMIT 10",
    "SELECT branch_name, ntile(4) OVER (ORDER BY branch_no), percent_rank() OVER (ORDER BY "
    "branch_no), cume_dist() OVER (ORDER BY branch_no) FROM bss_branch ORDER BY branch_no LIMIT 8",
    "SELECT DISTINCT first_value(branch_name) OVER (PARTITION BY service_area_id ORDER BY "
    "branch_no) FROM bss_branch ORDER BY 1",
    # dates and times
    "SELECT date_trunc('month', oper_date) AS m, sum(pay_sum) FROM bss_business_day_data GROUP BY 1 ORDER BY 1",
    "SELECT date_part('dow', oper_date) AS dow, avg(pay_sum) FROM bss_business_day_data GROUP BY 1 ORDER BY 1",
    "SELECT EXTRACT(YEAR FROM oper_date) AS y, EXTRACT(MONTH FROM oper_date) AS m, count(*) "
    "FROM bss_business_day_data GROUP BY 1, 2 ORDER BY 1, 2",
    "SELECT to_char(oper_date, 'YYYY-MM') AS 月份, sum(pay_sum) FROM bss_business_day_data "
    "GROUP BY 1 ORDER BY 1",
    "SELECT count(*) FROM bss_business_day_data WHERE oper_date BETWEEN '2023-04-01' AND '2023-04-30'",
    "SELECT max(oper_date) - min(oper_date) AS days, age(max(oper_date), min(oper_date)) "
    "FROM bss_business_day_data",
    "SELECT count(*) FROM bss_business_day_data WHERE oper_date >= DATE '2023-04-10' - INTERVAL '7 days'",
    "SELECT oper_date + 1 AS next_day, oper_date::timestamp + INTERVAL '2 hours' FROM "
    "bss_business_day_data ORDER BY 1 LIMIT 3",
    "SELECT make_date(2023, 4, 1), '2023-04-01'::date + 30, CAST('2023-04-01 10:00' AS timestamp)",
    "SELECT count(*) FROM bss_car_day_count WHERE count_date > CURRENT_DATE - 100000",
    "SELECT extract(epoch FROM INTERVAL '1 day'), justify_hours(INTERVAL '30 hours')",
    "SELECT date_trunc('week', create_ts)::date, count(*) FROM bss_business_day_data GROUP BY 1 ORDER BY 1 LIMIT 3",
    # strings and conditionals
    "SELECT * FROM bss_service_area WHERE service_area_name ILIKE '%服务区%' ORDER BY id LIMIT 3",
    "SELECT service_area_name FROM bss_service_area WHERE service_area_name LIKE '南%' ORDER BY 1",
    "SELECT upper(company_no), lower(company_name), length(company_name), "
    "substring(company_name, 1, 2), left(company_no, 3), right(company_no, 2) FROM bss_company ORDER BY 1",
    "SELECT concat(company_name, '-', company_no), company_name || '/' || company_no, "
    "replace(company_name, '公司', ''), trim(BOTH ' ' FROM company_name) FROM bss_company ORDER BY 1",
    "SELECT split_part(service_position, ',', 1), position(',' IN service_position), "
    "coalesce(service_position, '未知') FROM bss_service_area ORDER BY id LIMIT 5",
    "SELECT CASE WHEN pay_sum > 10000 THEN '高' WHEN pay_sum > 1000 THEN '中' ELSE '低' END AS 档次, "
    "count(*) FROM bss_business_day_data GROUP BY 1 ORDER BY 1",
    "SELECT nullif(service_state, '开放'), greatest(wx, zfb, rmb), least(wx, zfb) FROM "
    "bss_business_day_data d JOIN bss_service_area a ON a.id = d.service_area_id ORDER BY d.id LIMIT 5",
    "SELECT service_area_name FROM bss_service_area WHERE service_area_name ~ '^南' "
    "OR service_area_name SIMILAR TO '%(东|西)%' ORDER BY 1",
    "SELECT format('%s: %s', company_no, company_name), lpad(company_no, 10, '0') FROM bss_company ORDER BY 1",
    "SELECT regexp_replace(service_area_name, '服务区$', ''), md5(service_area_no) FROM bss_service_area ORDER BY 1 LIMIT 5",
    "SELECT $$it's$$ AS quoted, 'it''s' AS doubled, E'plain' AS escaped_kind",
    "SELECT $$a\\b$$ AS raw, 'c\\d' AS standard, $tag$x$y$tag$ AS tagged",
    "SELECT 'DROP TABLE t; DELETE FROM t' AS harmless_text, '/* not a comment */' AS c",
    # numbers and casts
    "SELECT pay_sum::int, pay_sum::float8, pay_sum::numeric(20, 1), wx_order::bigint, "
    "source_type::text FROM bss_business_day_data ORDER BY id LIMIT 3",
    "SELECT round(sum(wx) * 100.0 / NULLIF(sum(pay_sum), 0), 2) AS wx_share FROM bss_business_day_data",
    "SELECT abs(-3), ceil(2.1), floor(2.9), mod(7, 3), power(2, 10), sqrt(16.0), 7 / 2, 7 % 3, 2 ^ 3",
    "SELECT trunc(123.456, 1), sign(-2), div(9, 4), width_bucket(5.35, 0.024, 10.06, 5), 1e3, .5",
    "SELECT customer_count / 1000 AS k, customer_count::real / 7 FROM bss_car_day_count ORDER BY id LIMIT 3",
    "SELECT cast(order_sum AS varchar(10)), cast(pay_sum AS text), pay_sum::money FROM bss_business_day_data ORDER BY id LIMIT 2",
    # JSON and arrays
    "SELECT json_build_object('name', company_name, 'no', company_no) FROM bss_company ORDER BY company_no",
    "SELECT jsonb_agg(jsonb_build_object('t', car_type) ORDER BY car_type) FROM "
    "(SELECT DISTINCT car_type FROM bss_car_day_count) t",
    "SELECT '{\"a\": {\"b\": 1}}'::jsonb -> 'a' ->> 'b', '{\"a\": 1}'::jsonb ? 'a', "
    '\'{"a": 1, "b": 2}\'::jsonb @> \'{"a": 1}\'',
    "SELECT ARRAY[1, 2, 3] AS arr, (ARRAY[1, 2, 3])[2], array_length(ARRAY[1, 2], 1), "
    "cardinality(ARRAY[1]), 2 = ANY (ARRAY[1, 2])",
    "SELECT n, n * n FROM generate_series(1, 5) AS g(n) ORDER BY n",
    "SELECT x, i FROM unnest(ARRAY['a', 'b']) WITH ORDINALITY AS u(x, i)",
    "SELECT d::date FROM generate_series(DATE '2023-04-01', DATE '2023-04-05', INTERVAL '1 day') AS g(d)",
    "SELECT array_to_string(ARRAY['a', 'b'], ','), string_to_array('a,b', ',')",
    "SELECT ARRAY(SELECT company_no FROM bss_company ORDER BY 1) AS nos, ROW(1, 'a')::text",
    "SELECT * FROM pg_catalog.generate_series(1, 3) AS g(n) ORDER BY n DESC",
    # miscellany
    "SELECT DISTINCT ON (service_area_id) service_area_id, oper_date, pay_sum FROM "
    "bss_business_day_data ORDER BY service_area_id, pay_sum DESC, oper_date",
    "SELECT id FROM bss_company ORDER BY id FETCH FIRST 2 ROWS ONLY",
    "SELECT id FROM bss_company ORDER BY id LIMIT 2 OFFSET 1",
    "SELECT company_name FROM bss_company WHERE company_no IS NOT NULL AND company_name IS DISTINCT "
    "FROM 'x' ORDER BY 1",
    "SELECT t.* FROM bss_company AS t WHERE t.id = t.id ORDER BY t.id",
    'SELECT 1 AS "a""b", 2 AS "Mixed Case", TRUE, NULL::int, NOT FALSE',
    "-- top comment\nSELECT /* inline */ 1 -- trailing",
    "(SELECT 1 AS n) UNION (SELECT 2) ORDER BY 1 LIMIT 1",
    "TABLE bss_company",
    "SELECT oper_date AT TIME ZONE 'UTC' FROM bss_business_day_data ORDER BY id LIMIT 1",
    "SELECT public.bss_company.company_name FROM public.bss_company ORDER BY 1",
    "SELECT pg_catalog.upper('x'), \"lower\"('Y')",
    # calls regenerated pg_catalog-qualified, in every position
    "SELECT string_agg(DISTINCT car_type, ',' ORDER BY car_type) FROM bss_car_day_count",
    "SELECT * FROM unnest(ARRAY['b', 'a']) WITH ORDINALITY AS u(x, n) ORDER BY n",
    "SELECT lpad(company_name, 12, '*'), rpad(company_name, 3), repeat('-', 5), "
    "format('%s|%8s', company_no, company_name) FROM bss_company ORDER BY company_no",
    "SELECT count(*) FILTER (WHERE pay_sum > 100), mode() WITHIN GROUP (ORDER BY service_name) "
    "FROM bss_business_day_data",
    "SELECT cardinality(array_fill(0, ARRAY[3, 2])), coalesce(nullif(1, 1), greatest(2, 3))",
]
