-- sqlite3 workload: 50k rows from a recursive CTE, an index, group by, aggregates, a join.
CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, val REAL, blob BLOB);
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 50000)
INSERT INTO t(id, grp, name, val, blob)
SELECT n, n % 97, 'name-' || (n * 7919 % 50000) || '-' || substr('abcdefghijklmnop', 1 + n % 16),
       (n * 2654435761 % 1000003) / 1000.0, zeroblob(n % 300)
FROM seq;
CREATE INDEX t_name ON t(name);
SELECT count(*), sum(length(name)), sum(length(blob)), round(sum(val), 3) FROM t;
SELECT grp, count(*), round(avg(val), 3), min(name), max(name) FROM t GROUP BY grp ORDER BY grp LIMIT 8;
SELECT grp, group_concat(id, ',') FROM (SELECT grp, id FROM t WHERE id % 5000 = 0 ORDER BY id) GROUP BY grp ORDER BY grp;
SELECT substr(name, -3), count(*) FROM t GROUP BY substr(name, -3) ORDER BY 2 DESC, 1 LIMIT 5;
CREATE TABLE g AS SELECT grp, sum(val) AS total FROM t GROUP BY grp;
SELECT count(*), round(sum(g.total), 3) FROM t JOIN g USING (grp) WHERE t.id % 100 = 0;
UPDATE t SET name = name || name WHERE id % 3 = 0;
DELETE FROM t WHERE id % 4 = 0;
SELECT count(*), sum(length(name)) FROM t;
SELECT name FROM t ORDER BY name DESC LIMIT 3;
