-- The trading database is read and written only by the server and the worker,
-- as the owner. On a Supabase project, default privileges give anon,
-- authenticated and service_role ALL on every table, sequence and function
-- the migrating role creates in `public` (RLS without policies hides the rows,
-- but not from TRUNCATE, nor the functions from /rpc): take every such right
-- back. On a plain PostgreSQL those roles may not exist; only PUBLIC's rights go.
do $$
declare
  obj record;
  grantee text;
begin
  for grantee in
    select 'public' union all
    select quote_ident(rolname) from pg_roles where rolname in ('anon', 'authenticated', 'service_role')
  loop
    for obj in
      select format('%s %I.%I', case when c.relkind = 'S' then 'sequence' else 'table' end, n.nspname, c.relname) as name
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
        and c.relowner = (select oid from pg_roles where rolname = current_user)
      union all
      select 'routine ' || p.oid::regprocedure::text
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'public' and p.proowner = (select oid from pg_roles where rolname = current_user)
    loop
      execute format('revoke all on %s from %s', obj.name, grantee);
    end loop;
  end loop;
end
$$;
