"""SQL over the warehouse, one module per resource. Every query that returns client data
takes the caller's region scope and applies it in SQL, so rows outside it never leave the
database (SALES_LEADERSHIP's row-level security)."""
