-- Our own stand-in for the database shape of a Supabase project, for tests
-- that must run without the kit in ../shared/supabase (CI has none). Written
-- from what that kit showed, not copied from Supabase; only what our
-- migrations and checks meet is reproduced:
--   * the migrating role (Supabase's `postgres`, here ZMARTY_OWNER) owns the
--     database but is no superuser;
--   * `auth` belongs to GoTrue's role (ZMARTY_AUTH_ADMIN): the migrating role
--     may use auth.users (read, reference, put triggers on) but not CREATE in
--     the schema;
--   * default privileges give anon, authenticated and service_role every
--     right on whatever the migrating role creates in `public`.
-- Run as a superuser in each fresh database; test/supabase-shape/shape.ts
-- creates the roles and substitutes their names.

grant usage on schema public to anon, authenticated, service_role;
alter default privileges for role ZMARTY_OWNER in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges for role ZMARTY_OWNER in schema public grant all on sequences to anon, authenticated, service_role;
alter default privileges for role ZMARTY_OWNER in schema public grant all on functions to anon, authenticated, service_role;

create schema auth authorization ZMARTY_AUTH_ADMIN;
grant usage on schema auth to ZMARTY_OWNER, anon, authenticated, service_role;

-- The columns GoTrue writes when it creates a user and that our trigger reads.
create table auth.users (
  instance_id uuid,
  id uuid primary key,
  aud varchar(255),
  role varchar(255),
  email varchar(255) unique,
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  last_sign_in_at timestamptz,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  is_super_admin boolean,
  is_anonymous boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz,
  updated_at timestamptz
);
alter table auth.users owner to ZMARTY_AUTH_ADMIN;
grant select, insert, update, delete, references, trigger on auth.users to ZMARTY_OWNER;

-- The claim readers RLS policies call, owned by GoTrue's role as on Supabase.
create function auth.uid() returns uuid language sql stable as $$
  select coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''),
                  nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')::uuid $$;
create function auth.role() returns text language sql stable as $$
  select coalesce(nullif(current_setting('request.jwt.claim.role', true), ''),
                  nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role') $$;
create function auth.jwt() returns jsonb language sql stable as $$
  select coalesce(nullif(current_setting('request.jwt.claim', true), ''),
                  nullif(current_setting('request.jwt.claims', true), ''))::jsonb $$;
alter function auth.uid() owner to ZMARTY_AUTH_ADMIN;
alter function auth.role() owner to ZMARTY_AUTH_ADMIN;
alter function auth.jwt() owner to ZMARTY_AUTH_ADMIN;
