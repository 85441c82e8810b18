-- Whether the extension's objects can file history (from 0.2.0 on: between
-- installing the library and ALTER EXTENSION UPDATE they cannot).
SELECT pg_catalog.to_regprocedure($1) IS NOT NULL
