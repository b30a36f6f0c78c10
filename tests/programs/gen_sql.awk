# tests/programs/gen_sql.awk: writes a deterministic SQL script for the sqlite3 step:
# `customers` and `orders` rows as INSERT statements in one transaction, then indexes,
# joins, aggregates, window functions, updates and deletes, each query's result
# ordered so that the output is the same on every run.
# usage: awk -v customers=50000 -v orders=300000 -f gen_sql.awk > script.sql
BEGIN {
  srand(11)
  split("Oslo Lima Pune Kyiv Lyon Graz Cork Bari Nice Turku Split Brno", city, " ")
  split("bolt nut gear cog axle lever pulley spring wedge screw", item, " ")
  print "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT, joined INTEGER);"
  print "CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER REFERENCES customers(id),"
  print "  item TEXT, qty INTEGER, cents INTEGER, note TEXT);"
  print "BEGIN;"
  for (i = 1; i <= customers; i++)
    printf "INSERT INTO customers VALUES(%d,'customer-%d-%x','%s',%d);\n", i, i, int(rand() * 65536), city[1 + int(rand() * 12)], 2000 + int(rand() * 26)
  for (i = 1; i <= orders; i++)
    printf "INSERT INTO orders VALUES(%d,%d,'%s',%d,%d,'%s');\n", i, 1 + int(rand() * customers), item[1 + int(rand() * 10)], 1 + int(rand() * 20), 100 + int(rand() * 99900), substr("lorem ipsum dolor sit amet consectetur adipiscing elit", 1, 1 + int(rand() * 50))
  print "COMMIT;"
  print "CREATE INDEX orders_customer ON orders(customer);"
  print "CREATE INDEX orders_item_qty ON orders(item, qty);"
  print "CREATE INDEX customers_city ON customers(city, joined);"
  print "SELECT count(*), sum(qty), sum(cents) FROM orders;"
  print "SELECT c.city, count(*), sum(o.qty * o.cents) FROM customers c JOIN orders o ON o.customer = c.id GROUP BY c.city ORDER BY c.city;"
  print "SELECT item, count(*), avg(qty), min(cents), max(cents) FROM orders GROUP BY item ORDER BY item;"
  print "SELECT c.name, t.total FROM (SELECT customer, sum(qty * cents) AS total FROM orders GROUP BY customer) t"
  print "  JOIN customers c ON c.id = t.customer ORDER BY t.total DESC, c.id LIMIT 20;"
  print "SELECT joined, count(DISTINCT o.customer) FROM orders o JOIN customers c ON c.id = o.customer WHERE o.qty > 15 GROUP BY joined ORDER BY joined;"
  print "SELECT customer, id, sum(qty) OVER (PARTITION BY customer ORDER BY id) FROM orders WHERE customer <= 30 ORDER BY customer, id;"
  print "SELECT city, name, rank() OVER (PARTITION BY city ORDER BY joined DESC, id) AS r FROM customers ORDER BY city, r LIMIT 60;"
  print "SELECT group_concat(item, ',') FROM (SELECT DISTINCT item FROM orders ORDER BY item);"
  print "SELECT length(group_concat(name, ';')) FROM (SELECT name FROM customers ORDER BY name DESC);"
  print "SELECT upper(substr(note, 1, 5)), count(*) FROM orders GROUP BY 1 ORDER BY 1;"
  print "UPDATE orders SET qty = qty + 1 WHERE customer % 7 = 0;"
  print "DELETE FROM orders WHERE id % 11 = 0;"
  print "CREATE TABLE top AS SELECT customer, count(*) AS n FROM orders GROUP BY customer HAVING n > 8;"
  print "SELECT count(*), sum(n) FROM top;"
  print "SELECT count(*), sum(qty) FROM orders WHERE customer IN (SELECT customer FROM top);"
  print "WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < 100000) SELECT sum(x % 97), max(x) FROM seq;"
  print "PRAGMA integrity_check;"
}
