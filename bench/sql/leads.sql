-- The table every workload writes (issue 3's 16-column leads table).
DROP TABLE IF EXISTS leads CASCADE;
CREATE TABLE leads (
    id         bigserial PRIMARY KEY,
    email      text NOT NULL,
    full_name  text,
    company    text,
    phone      text,
    status     text NOT NULL DEFAULT 'new',
    score      int,
    source     text,
    owner_id   bigint,
    tags       text[],
    metadata   jsonb,
    revenue    numeric(12,2),
    is_deleted bool NOT NULL DEFAULT false,
    deleted_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
