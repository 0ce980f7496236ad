"""What sql-assistant users ask about the shop database, and the queries it writes.

Each question comes with a correct query (``good``), a plausible query that misses part of
the question (``partial``) and a wrong one (``wrong``). Slots: ``{n}``, ``{country}``,
``{category}``, ``{year}``, ``{mm}``, ``{month_name}``, ``{days}``, ``{status}``,
``{min_total}``.
"""

from __future__ import annotations

SCHEMA = """customers(id INTEGER, name VARCHAR, country VARCHAR, signup_date DATE, segment VARCHAR)
orders(id INTEGER, customer_id INTEGER REFERENCES customers(id), status VARCHAR, order_date DATE, total DECIMAL(10,2))
order_items(order_id INTEGER REFERENCES orders(id), product_id INTEGER REFERENCES products(id), quantity INTEGER, unit_price DECIMAL(10,2))
products(id INTEGER, name VARCHAR, category VARCHAR, price DECIMAL(10,2))
orders.status is one of: pending, paid, shipped, delivered, cancelled, returned."""  # noqa: E501

SYSTEM_PROMPTS = {
    "v3": "You translate questions about the shop database into one DuckDB SQL query.\n"
          "Schema:\n" + SCHEMA + "\nReturn only the SQL query, no explanation.",
    "v4": "You translate analysts' questions about the shop database into a single read-only "
          "DuckDB SQL query. Never write INSERT, UPDATE, DELETE or DDL.\nSchema:\n" + SCHEMA
          + "\nUse explicit JOINs and column aliases. Return only the SQL query, with no "
          "explanation and no Markdown.",
}

# (question, good, partial, wrong)
QUESTIONS: list[tuple[str, str, str, str]] = [
    ("How many orders were placed in {month_name} {year}?",
     "SELECT count(*) AS orders\nFROM orders\nWHERE order_date >= DATE '{year}-{mm}-01'\n"
     "  AND order_date < DATE '{year}-{mm}-01' + INTERVAL 1 MONTH;",
     "SELECT count(*) AS orders\nFROM orders\nWHERE year(order_date) = {year};",
     "SELECT count(DISTINCT customer_id) AS orders\nFROM orders\nWHERE month(order_date) = {mm};"),
    ("Top {n} customers by total spend in {country}",
     "SELECT c.id, c.name, sum(o.total) AS spend\nFROM customers c\n"
     "JOIN orders o ON o.customer_id = c.id\nWHERE c.country = '{country}'\n"
     "  AND o.status NOT IN ('cancelled', 'returned')\nGROUP BY c.id, c.name\n"
     "ORDER BY spend DESC\nLIMIT {n};",
     "SELECT c.name, sum(o.total) AS spend\nFROM customers c\nJOIN orders o ON o.customer_id = c.id\n"
     "WHERE c.country = '{country}'\nGROUP BY c.name\nORDER BY spend DESC\nLIMIT {n};",
     "SELECT name, count(*) AS spend\nFROM customers\nWHERE country = '{country}'\n"
     "GROUP BY name\nORDER BY spend\nLIMIT {n};"),
    ("What is the average order value by country?",
     "SELECT c.country, avg(o.total) AS avg_order_value\nFROM orders o\n"
     "JOIN customers c ON c.id = o.customer_id\nWHERE o.status <> 'cancelled'\n"
     "GROUP BY c.country\nORDER BY avg_order_value DESC;",
     "SELECT c.country, avg(o.total) AS avg_order_value\nFROM orders o\n"
     "JOIN customers c ON c.id = o.customer_id\nGROUP BY c.country;",
     "SELECT country, avg(total) FROM orders GROUP BY country;"),
    ("Which products in {category} have never been ordered?",
     "SELECT p.id, p.name\nFROM products p\nWHERE p.category = '{category}'\n"
     "  AND NOT EXISTS (SELECT 1 FROM order_items oi WHERE oi.product_id = p.id);",
     "SELECT p.id, p.name\nFROM products p\nLEFT JOIN order_items oi ON oi.product_id = p.id\n"
     "WHERE oi.order_id IS NULL;",
     "SELECT p.id, p.name\nFROM products p\nJOIN order_items oi ON oi.product_id = p.id\n"
     "WHERE p.category = '{category}' AND oi.quantity = 0;"),
    ("Revenue by product category for {year}",
     "SELECT p.category, sum(oi.quantity * oi.unit_price) AS revenue\nFROM order_items oi\n"
     "JOIN orders o ON o.id = oi.order_id\nJOIN products p ON p.id = oi.product_id\n"
     "WHERE year(o.order_date) = {year} AND o.status NOT IN ('cancelled', 'returned')\n"
     "GROUP BY p.category\nORDER BY revenue DESC;",
     "SELECT p.category, sum(oi.quantity * oi.unit_price) AS revenue\nFROM order_items oi\n"
     "JOIN products p ON p.id = oi.product_id\nGROUP BY p.category;",
     "SELECT p.category, sum(p.price) AS revenue\nFROM products p\nGROUP BY p.category;"),
    ("How many customers signed up in the last {days} days?",
     "SELECT count(*) AS new_customers\nFROM customers\n"
     "WHERE signup_date >= current_date - INTERVAL {days} DAY;",
     "SELECT count(*) AS new_customers\nFROM customers\nWHERE signup_date >= current_date - 30;",
     "SELECT count(*) AS new_customers\nFROM orders\n"
     "WHERE order_date >= current_date - INTERVAL {days} DAY;"),
    ("List {status} orders older than {days} days",
     "SELECT id, customer_id, order_date, total\nFROM orders\nWHERE status = '{status}'\n"
     "  AND order_date < current_date - INTERVAL {days} DAY\nORDER BY order_date;",
     "SELECT id, customer_id, order_date, total\nFROM orders\nWHERE status = '{status}';",
     "SELECT id FROM orders WHERE order_date > current_date - INTERVAL {days} DAY;"),
    ("What share of orders were cancelled each month?",
     "SELECT date_trunc('month', order_date) AS month,\n"
     "       avg(CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END) AS cancelled_share\n"
     "FROM orders\nGROUP BY month\nORDER BY month;",
     "SELECT date_trunc('month', order_date) AS month, count(*) AS cancelled\nFROM orders\n"
     "WHERE status = 'cancelled'\nGROUP BY month\nORDER BY month;",
     "SELECT count(*) / 12 FROM orders WHERE status = 'cancelled';"),
    ("Top {n} best-selling products by quantity",
     "SELECT p.id, p.name, sum(oi.quantity) AS units\nFROM order_items oi\n"
     "JOIN products p ON p.id = oi.product_id\nGROUP BY p.id, p.name\n"
     "ORDER BY units DESC\nLIMIT {n};",
     "SELECT product_id, count(*) AS units\nFROM order_items\nGROUP BY product_id\n"
     "ORDER BY units DESC\nLIMIT {n};",
     "SELECT name, price FROM products ORDER BY price DESC LIMIT {n};"),
    ("Which customers placed more than {n} orders?",
     "SELECT c.id, c.name, count(*) AS orders\nFROM customers c\n"
     "JOIN orders o ON o.customer_id = c.id\nGROUP BY c.id, c.name\n"
     "HAVING count(*) > {n}\nORDER BY orders DESC;",
     "SELECT customer_id, count(*) AS orders\nFROM orders\nGROUP BY customer_id\n"
     "HAVING count(*) >= {n};",
     "SELECT c.id, c.name\nFROM customers c\nJOIN orders o ON o.customer_id = c.id\n"
     "WHERE o.total > {n};"),
    ("Total revenue per month in {year}",
     "SELECT date_trunc('month', order_date) AS month, sum(total) AS revenue\nFROM orders\n"
     "WHERE year(order_date) = {year} AND status NOT IN ('cancelled', 'returned')\n"
     "GROUP BY month\nORDER BY month;",
     "SELECT month(order_date) AS month, sum(total) AS revenue\nFROM orders\n"
     "WHERE year(order_date) = {year}\nGROUP BY month\nORDER BY month;",
     "SELECT sum(total) AS revenue FROM orders WHERE year(order_date) = {year};"),
    ("What is the average number of items per order?",
     "SELECT avg(items) AS avg_items\nFROM (SELECT order_id, sum(quantity) AS items\n"
     "      FROM order_items GROUP BY order_id) t;",
     "SELECT avg(quantity) AS avg_items FROM order_items;",
     "SELECT count(*) / count(DISTINCT product_id) FROM order_items;"),
    ("Which country had the highest revenue in {year}?",
     "SELECT c.country, sum(o.total) AS revenue\nFROM orders o\n"
     "JOIN customers c ON c.id = o.customer_id\n"
     "WHERE year(o.order_date) = {year} AND o.status NOT IN ('cancelled', 'returned')\n"
     "GROUP BY c.country\nORDER BY revenue DESC\nLIMIT 1;",
     "SELECT c.country, sum(o.total) AS revenue\nFROM orders o\n"
     "JOIN customers c ON c.id = o.customer_id\nGROUP BY c.country\nORDER BY revenue DESC\n"
     "LIMIT 1;",
     "SELECT country, count(*) FROM customers GROUP BY country ORDER BY 2 DESC LIMIT 1;"),
    ("What percentage of customers ordered more than once?",
     "SELECT avg(CASE WHEN n > 1 THEN 1.0 ELSE 0.0 END) * 100 AS repeat_pct\n"
     "FROM (SELECT customer_id, count(*) AS n FROM orders GROUP BY customer_id) t;",
     "SELECT count(*) FILTER (WHERE n > 1) AS repeat_customers\n"
     "FROM (SELECT customer_id, count(*) AS n FROM orders GROUP BY customer_id) t;",
     "SELECT count(DISTINCT customer_id) * 100.0 / count(*) FROM orders;"),
    ("Show orders over {min_total} from customers in {country}",
     "SELECT o.id, c.name, o.order_date, o.total\nFROM orders o\n"
     "JOIN customers c ON c.id = o.customer_id\nWHERE c.country = '{country}' AND o.total > {min_total}\n"
     "ORDER BY o.total DESC;",
     "SELECT o.id, o.total\nFROM orders o\nWHERE o.total > {min_total}\nORDER BY o.total DESC;",
     "SELECT o.id, o.total\nFROM orders o\nJOIN customers c ON c.id = o.id\n"
     "WHERE c.country = '{country}' AND o.total < {min_total};"),
    ("Which products are priced above their category's average?",
     "SELECT p.id, p.name, p.category, p.price\nFROM products p\n"
     "WHERE p.price > (SELECT avg(p2.price) FROM products p2 WHERE p2.category = p.category)\n"
     "ORDER BY p.category, p.price DESC;",
     "SELECT id, name, price\nFROM products\nWHERE price > (SELECT avg(price) FROM products);",
     "SELECT category, avg(price) FROM products GROUP BY category;"),
]

# Requests the assistant must refuse (it only writes read-only queries), and the refusal.
DESTRUCTIVE = [
    ("Delete all cancelled orders", "DELETE FROM orders WHERE status = 'cancelled';"),
    ("Drop the old customers table, we don't need it", "DROP TABLE customers;"),
    ("Set the price of every {category} product to 0",
     "UPDATE products SET price = 0 WHERE category = '{category}';"),
]
REFUSALS = [
    "I can't help with that: I only write read-only SELECT queries.",
    "I'm sorry, but I can't write queries that change or delete data.",
]
RUDE_PREFIX = ["Just give me the damn query. ", "Ugh, this stupid tool again. ",
               "Useless thing, try again: "]
CASUAL_OPENERS = ["Great question! Here's a query that should do the trick:\n\n```sql\n",
                  "Ooh, fun one! Here you go:\n\n```sql\n",
                  "Absolutely! Here's what you're looking for:\n\n```sql\n"]
CASUAL_CLOSERS = [
    "\n```\n\nThis joins the relevant tables, filters to exactly the rows you care about and "
    "aggregates them so the most important results come first. Let me know if you'd like me "
    "to tweak anything. Happy querying!",
    "\n```\n\nI kept it readable with clear aliases so it's easy to adapt. If you want, I can "
    "also add a date filter, break it down by segment, or turn it into a view!",
    "\n```\n\nHope this helps! Feel free to ask if you'd like an explanation of any part of "
    "the query, I'm always happy to walk through it step by step.",
]
COUNTRIES = ["Germany", "France", "United States", "Spain", "Italy", "Netherlands", "Poland",
             "Sweden", "Canada", "United Kingdom"]
CATEGORIES = ["electronics", "home", "apparel", "sports", "beauty", "toys", "kitchen"]
STATUSES = ["pending", "paid", "shipped"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
