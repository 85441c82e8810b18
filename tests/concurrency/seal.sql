-- A sealer: seal what is ready, every 100-300 ms.
SELECT count(*) FROM audit_seal();
SELECT pg_sleep(0.1 + random() * 0.2);
