INSERT INTO leads (email, full_name, company, phone, status, score, source, owner_id, tags, metadata, revenue)
SELECT 'lead' || g || '@example.com', 'Lead Number ' || g, 'Company ' || (g % 997), '+1-555-' || lpad((g % 10000)::text, 4, '0'),
       (ARRAY['new', 'contacted', 'qualified'])[1 + g % 3], g % 100, (ARRAY['web', 'ads', 'referral'])[1 + g % 3],
       g % 50, ARRAY['tag' || (g % 7), 'campaign'], jsonb_build_object('utm_source', 'ads', 'visits', g % 13, 'ok', true),
       (g % 100000) * 1.25
FROM generate_series(1, :rows) g;
