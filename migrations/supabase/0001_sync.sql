-- Hearth's server side of sync, version 1: for the user's own Supabase project (or any
-- PostgreSQL 15 behind PostgREST with Supabase's roles and auth.uid()). Append-only: a shipped
-- file never changes; later versions are new numbered files.
--
-- In one paragraph:
--  * Every synced row carries `server_version`, a per-user counter taken once per transaction
--    by a trigger while holding the user's counter-row lock, so versions become visible in
--    commit order and a pull cursor `(server_version, id)` never skips a row (unlike
--    updated_at or a plain sequence, assigned before commit).
--  * Conflicts: per-field last-writer-wins on the client's hybrid logical clock in
--    `field_hlc` ({column: "<13-digit ms>:<5-digit counter>:<hex node>"}), merged in a BEFORE
--    trigger so every write path obeys it; losing values go to sync.conflict; stamps more
--    than 5 minutes ahead of the server clock are clamped.
--  * Deletes are tombstones (`deleted_at`, itself a merged field); clients have no DELETE.
--  * Push: public.sync_push takes a batch of client transactions with a per-device sequence
--    number (re-delivery is a no-op; one bad transaction is rejected alone). Pull:
--    public.sync_pull returns one JSON page keyed on (server_version, id).
-- Adapted from the tested sketch in the project's shared reference.

create schema if not exists sync;               -- NOT listed in PostgREST's exposed schemas
revoke all on schema sync from public;
grant usage on schema sync to authenticated, service_role;   -- lets our functions be called; no table grants

-- ---------------------------------------------------------------- internals
create table if not exists sync.user_version (
  user_id  uuid primary key references auth.users(id) on delete cascade,
  version  bigint not null default 0
);

create table if not exists sync.client (
  client_id      uuid primary key,
  user_id        uuid not null references auth.users(id) on delete cascade,
  last_tx_seq    bigint not null default 0,   -- highest client transaction already processed
  schema_version int    not null default 0,
  last_seen      timestamptz not null default now()
);

create table if not exists sync.conflict (      -- losing writes, kept for audit / "restore my version"
  id           bigserial primary key,
  user_id      uuid not null,
  tbl          text not null,
  row_id       uuid not null,
  field        text not null,
  losing_value jsonb,
  losing_hlc   text,
  winning_hlc  text,
  client_id    uuid,
  created_at   timestamptz not null default now()
);
create index if not exists conflict_user_idx on sync.conflict (user_id, created_at);

-- Next per-user version, allocated ONCE PER TRANSACTION (all rows written by one transaction share it;
-- pulls page on (server_version, id)). The ON CONFLICT DO UPDATE takes a row lock on the user's counter
-- row that is held until COMMIT, so two transactions of the same user can never commit out of version
-- order => `(server_version, id) > cursor` never skips a committed row.
create or replace function sync.next_version(p_user uuid) returns bigint
language plpgsql security definer set search_path = '' as $$
declare
  k text := 'sync.v_' || replace(p_user::text, '-', '');
  v text := current_setting(k, true);          -- transaction-local cache (reset at commit/rollback)
begin
  if v is not null and v <> '' then return v::bigint; end if;
  insert into sync.user_version as uv (user_id, version) values (p_user, 1)
  on conflict (user_id) do update set version = uv.version + 1
  returning uv.version::text into v;
  perform set_config(k, v, true);
  return v::bigint;
end $$;
revoke all on function sync.next_version(uuid) from public;

create or replace function sync.head() returns bigint
language sql stable security definer set search_path = '' as $$
  select coalesce((select version from sync.user_version where user_id = auth.uid()), 0)
$$;
revoke all on function sync.head() from public;
grant execute on function sync.head() to authenticated;

-- Columns the client may never set / merge. created_at is the client's (set once, on insert):
-- a message written offline keeps its place in the conversation.
create or replace function sync.is_managed(col text) returns boolean
language sql immutable as $$
  select col = any (array['id','user_id','server_version','field_hlc','updated_at'])
$$;

-- BEFORE INSERT OR UPDATE trigger shared by all synced tables.
create or replace function sync.stamp() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  max_ms  bigint := (extract(epoch from clock_timestamp()) * 1000)::bigint + 300000; -- now + 5 min
  h_in    jsonb := '{}'::jsonb;
  h_old   jsonb;
  h_out   jsonb;
  o       jsonb;
  n       jsonb;
  merged  jsonb;
  k       text;
  hin     text;
  hold    text;
begin
  -- 0. maintenance bypass (pg_cron / SQL editor as postgres), e.g. tombstone payload compaction
  if session_user = 'postgres' and current_setting('sync.maintenance', true) = 'on' then
    return new;
  end if;
  -- 1. sanitize incoming HLCs: keep only real, client-writable columns; clamp far-future stamps.
  -- One set-based statement rather than a loop: this runs for every row of every push.
  -- Clock skew / poisoning guard: a stamp more than 5 minutes ahead becomes now + 5 minutes,
  -- keeping its counter (a device whose clock runs ahead issues stamps that differ only in their
  -- counter; clamping them all to ':00000:' would make its second write to a field look like a
  -- re-delivery of the first).
  n := to_jsonb(new);
  select coalesce(jsonb_object_agg(e.key, case
           when e.value !~ '^\d{13}:\d{5}:[0-9a-f]{1,32}$' then e.value
           when split_part(e.value, ':', 1)::bigint > max_ms
             then lpad(max_ms::text, 13, '0') || ':' || split_part(e.value, ':', 2) || ':' || split_part(e.value, ':', 3)
           else e.value end), '{}'::jsonb),
         min(e.key) filter (where e.value !~ '^\d{13}:\d{5}:[0-9a-f]{1,32}$')
    into h_in, k
    from jsonb_each_text(coalesce(new.field_hlc, '{}'::jsonb)) e
   where not sync.is_managed(e.key) and n ? e.key;
  if k is not null then
    raise exception 'bad HLC % for %', new.field_hlc ->> k, k using errcode = '22023';
  end if;

  if tg_op = 'INSERT' then
    new.field_hlc  := h_in;
    new.created_at := coalesce(new.created_at, now());
  else
    if new.user_id is distinct from old.user_id or new.id is distinct from old.id then
      raise exception 'id/user_id are immutable' using errcode = '42501';
    end if;
    -- 2. per-field LWW merge: start from OLD, take a field from NEW only if its HLC is newer
    o := to_jsonb(old); merged := o;
    h_old := coalesce(old.field_hlc, '{}'::jsonb); h_out := h_old;
    for k, hin in select key, value from jsonb_each_text(h_in) loop
      if k = 'created_at' then continue; end if;   -- immutable after insert
      hold := h_old ->> k;
      if hold is null or hin > hold then
        merged := jsonb_set(merged, array[k], coalesce(n -> k, 'null'::jsonb));
        h_out  := jsonb_set(h_out,  array[k], to_jsonb(hin));
      elsif hin < hold and (n -> k) is distinct from (o -> k) then
        insert into sync.conflict (user_id, tbl, row_id, field, losing_value, losing_hlc, winning_hlc, client_id)
        values (old.user_id, tg_table_name, old.id, k, n -> k, hin, hold,
                nullif(current_setting('sync.client_id', true), '')::uuid);
      end if;                                     -- equal HLC => idempotent re-delivery, no-op
    end loop;
    new := jsonb_populate_record(new, merged);
    new.field_hlc  := h_out;
    new.created_at := old.created_at;
  end if;

  -- 3. server-owned metadata
  new.server_version := sync.next_version(new.user_id);
  new.updated_at     := now();                    -- informational only, never used as a cursor
  return new;
end $$;

-- ---------------------------------------------------------------- app tables
-- Mirrors of the local tables (migrations/sqlite/), synced fields only: local-only columns
-- (a chat's active_leaf_id and activity_at, a message's seq) never leave the device.
create table if not exists public.workspaces (
  id             uuid primary key,                  -- client-generated UUIDv7: retries never duplicate
  user_id        uuid not null default auth.uid() references auth.users(id) on delete cascade,
  name           text not null default '',
  handle         text not null default '',
  description    text not null default '',
  tone           text not null default '',
  timezone       text not null default 'UTC',
  system_prompt  text not null default '',
  knowledge_base text not null default '',
  default_model  text,
  settings       jsonb not null default '{}'::jsonb,
  deleted_at     timestamptz,
  field_hlc      jsonb not null default '{}'::jsonb,
  server_version bigint not null default 0,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now(),
  unique (id, user_id)
);

create table if not exists public.chats (
  id             uuid primary key,
  user_id        uuid not null default auth.uid() references auth.users(id) on delete cascade,
  workspace_id   uuid,
  title          text not null default '',
  model          text,
  pinned         boolean not null default false,
  archived       boolean not null default false,
  deleted_at     timestamptz,
  field_hlc      jsonb not null default '{}'::jsonb,
  server_version bigint not null default 0,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now(),
  unique (id, user_id),
  -- composite FK: the parent must belong to the same user (FK checks ignore RLS)
  foreign key (workspace_id, user_id) references public.workspaces (id, user_id) deferrable initially deferred
);

create table if not exists public.messages (
  id                uuid primary key,
  user_id           uuid not null default auth.uid() references auth.users(id) on delete cascade,
  chat_id           uuid not null,
  parent_id         uuid,
  role              text not null default 'user' check (role in ('system', 'user', 'assistant', 'tool')),
  content           text not null default '',
  model             text,
  provider          text,
  status            text not null default 'complete'
                    check (status in ('pending', 'streaming', 'complete', 'error', 'cancelled')),
  error             text,
  prompt_tokens     integer,
  completion_tokens integer,
  latency_ms        bigint,
  idempotency_key   text,
  notice            text,
  deleted_at        timestamptz,
  field_hlc         jsonb not null default '{}'::jsonb,
  server_version    bigint not null default 0,
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now(),
  foreign key (chat_id, user_id) references public.chats (id, user_id) deferrable initially deferred
);

do $$
declare t text;
begin
  foreach t in array array['workspaces','chats','messages'] loop
    -- The whole pull key: one transaction's rows share a version (a bulk import can give
    -- 100,000 rows one version), and without `id` in the index every page would sort them all.
    execute format('create index if not exists %1$s_pull_idx on public.%1$I (user_id, server_version, id)', t);
    execute format('drop trigger if exists sync_stamp on public.%I', t);
    execute format('create trigger sync_stamp before insert or update on public.%I
                    for each row execute function sync.stamp()', t);
    execute format('alter table public.%I enable row level security', t);
    execute format('alter table public.%I force row level security', t);
    execute format('drop policy if exists own_select on public.%I', t);
    execute format('drop policy if exists own_insert on public.%I', t);
    execute format('drop policy if exists own_update on public.%I', t);
    -- (select auth.uid()) is evaluated once per statement (initPlan), not per row
    execute format('create policy own_select on public.%I for select to authenticated
                    using (user_id = (select auth.uid()))', t);
    execute format('create policy own_insert on public.%I for insert to authenticated
                    with check (user_id = (select auth.uid()))', t);
    execute format('create policy own_update on public.%I for update to authenticated
                    using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()))', t);
    execute format('revoke all on public.%I from anon, authenticated', t);
    -- upsert (INSERT ... ON CONFLICT DO UPDATE) needs SELECT + INSERT + UPDATE; no DELETE: tombstones only
    execute format('grant select, insert, update on public.%I to authenticated', t);
    execute format('grant all on public.%I to service_role', t);
  end loop;
end $$;

-- ---------------------------------------------------------------- push RPC
-- p_txs: [{"tx_seq": 41, "ops": [{"table":"chats","row":{"id":..,"title":..,"field_hlc":{"title":"..."}}}]}]
-- Each client transaction is applied atomically in its own subtransaction; a data/constraint/RLS
-- error rejects only that transaction (reported back, client dead-letters it); anything else
-- (auth, timeouts, serialization, network) fails the whole call and the client retries later.
create or replace function sync.client_lock(p_client uuid) returns bigint
language plpgsql security definer set search_path = '' as $$
declare v bigint;
begin
  insert into sync.client (client_id, user_id) values (p_client, auth.uid()) on conflict (client_id) do nothing;
  select last_tx_seq into v from sync.client
   where client_id = p_client and user_id = auth.uid() for update;     -- serializes pushes per device
  if not found then raise exception 'client % belongs to another user', p_client using errcode = '42501'; end if;
  return v;
end $$;

create or replace function sync.client_ack(p_client uuid, p_seq bigint, p_schema int) returns void
language sql security definer set search_path = '' as $$
  update sync.client set last_tx_seq = greatest(last_tx_seq, p_seq), schema_version = p_schema, last_seen = now()
   where client_id = p_client and user_id = auth.uid()
$$;
revoke all on function sync.client_lock(uuid), sync.client_ack(uuid, bigint, int) from public;
grant execute on function sync.client_lock(uuid), sync.client_ack(uuid, bigint, int) to authenticated;

create or replace function public.sync_push(p_client_id uuid, p_schema_version int, p_txs jsonb)
returns jsonb
language plpgsql security invoker set search_path = '' as $$
declare
  min_schema constant int := 1;
  v_uid  uuid := auth.uid();
  v_last bigint;
  v_max  bigint;
  tx     jsonb;
  op     jsonb;
  v_seq  bigint;
  v_tbl  text;
  v_cols text;
  v_set  text;
  v_upd  text;
  v_id   uuid;
  v_exists boolean;
  v_row  jsonb;
  v_res  jsonb[] := '{}';
  v_state text; v_msg text;
begin
  if v_uid is null then
    raise exception 'not authenticated' using errcode = '28000';    -- client: refresh JWT, retry
  end if;
  if p_schema_version < min_schema then
    return jsonb_build_object('status', 'upgrade_required', 'min_schema', min_schema);
  end if;
  v_last := sync.client_lock(p_client_id);
  v_max  := v_last;
  perform set_config('sync.client_id', p_client_id::text, true);

  for tx in select value from jsonb_array_elements(p_txs) order by (value ->> 'tx_seq')::bigint loop
    v_seq := (tx ->> 'tx_seq')::bigint;
    if v_seq <= v_last then                                          -- re-delivery: already applied
      v_res := array_append(v_res, jsonb_build_object('tx_seq', v_seq, 'status', 'duplicate'));
      continue;
    end if;
    begin                                                            -- subtransaction per client tx
      for op in select value from jsonb_array_elements(tx -> 'ops') loop
        v_tbl := op ->> 'table';
        if v_tbl is null or v_tbl <> all (array['workspaces','chats','messages']) then
          raise exception 'unknown table %', v_tbl using errcode = '22023';
        end if;
        v_row := (op -> 'row') || jsonb_build_object('user_id', v_uid);
        -- Only the columns present in the op are written: missing ones get their DEFAULT on insert
        -- and keep their current value on update. The trigger then keeps only HLC-newer fields.
        select string_agg(quote_ident(a.attname), ', ' order by a.attnum),
               string_agg(format('%I = excluded.%I', a.attname, a.attname), ', ' order by a.attnum)
                 filter (where a.attname not in ('id', 'user_id')),
               string_agg(quote_ident(a.attname), ', ' order by a.attnum)
                 filter (where a.attname not in ('id', 'user_id'))
          into v_cols, v_set, v_upd
          from pg_catalog.pg_attribute a
         where a.attrelid = format('public.%I', v_tbl)::regclass
           and a.attnum > 0 and not a.attisdropped
           and v_row ? a.attname
           and (a.attname in ('id', 'user_id', 'field_hlc') or not sync.is_managed(a.attname));
        -- patch an existing row (RLS hides other users' rows, so theirs count as absent) ...
        v_id := (v_row ->> 'id')::uuid;
        if v_tbl = 'workspaces' then
          v_exists := exists (select 1 from public.workspaces where id = v_id);
        elsif v_tbl = 'chats' then
          v_exists := exists (select 1 from public.chats where id = v_id);
        else
          v_exists := exists (select 1 from public.messages where id = v_id);
        end if;
        if v_exists and v_set is not null then
          execute format('update public.%1$I t set (%2$s) = (select %2$s from jsonb_populate_record(null::public.%1$I, $1))
                           where t.id = ($1 ->> ''id'')::uuid',
                         v_tbl, v_upd) using v_row;
        end if;
        -- ... or create it (a partial row for a never-created id fails NOT NULL => tx rejected;
        -- another user's id conflicts and fails their row's RLS => tx rejected)
        if not v_exists then
          execute format(
            'insert into public.%1$I (%2$s) select %2$s from jsonb_populate_record(null::public.%1$I, $1)
               on conflict (id) do update set %3$s',
            v_tbl, v_cols, coalesce(v_set, 'field_hlc = excluded.field_hlc'))
            using v_row;
        end if;
      end loop;
      set constraints all immediate;                                 -- surface deferred FK errors here
      set constraints all deferred;
      v_res := array_append(v_res, jsonb_build_object('tx_seq', v_seq, 'status', 'applied'));
    exception
      when data_exception or integrity_constraint_violation or insufficient_privilege or raise_exception then
        get stacked diagnostics v_state = returned_sqlstate, v_msg = message_text;
        v_res := array_append(v_res, jsonb_build_object('tx_seq', v_seq, 'status', 'rejected',
                                                        'sqlstate', v_state, 'message', v_msg));
    end;
    v_max := greatest(v_max, v_seq);
  end loop;

  perform sync.client_ack(p_client_id, v_max, p_schema_version);
  return jsonb_build_object('status', 'ok', 'acked_tx_seq', v_max, 'results', to_jsonb(v_res), 'head', sync.head());
end $$;
revoke all on function public.sync_push(uuid, int, jsonb) from public, anon;
grant execute on function public.sync_push(uuid, int, jsonb) to authenticated;

-- ---------------------------------------------------------------- pull RPC
-- Keyset page on (server_version, id). One SQL statement => one snapshot. Returns a single
-- json value, so PostgREST's db-max-rows (1000 on Supabase) cannot silently truncate it; json
-- rather than jsonb because the page is only ever printed, and building it as text is three
-- times faster than building a jsonb tree first.
create or replace function public.sync_pull(p_since_version bigint, p_since_id uuid default '00000000-0000-0000-0000-000000000000', p_limit int default 1000)
returns json
language sql stable security invoker set search_path = '' as $$
  with lim as (select least(greatest(p_limit, 1), 5000) as n),
  changes as (
    (select 'workspaces'::text as t, w.server_version as v, w.id as id, row_to_json(w) as r from public.workspaces w
      where w.user_id = (select auth.uid()) and (w.server_version, w.id) > (p_since_version, p_since_id)
      order by w.server_version, w.id limit (select n from lim))
    union all
    (select 'chats', c.server_version, c.id, row_to_json(c) from public.chats c
      where c.user_id = (select auth.uid()) and (c.server_version, c.id) > (p_since_version, p_since_id)
      order by c.server_version, c.id limit (select n from lim))
    union all
    (select 'messages', m.server_version, m.id, row_to_json(m) from public.messages m
      where m.user_id = (select auth.uid()) and (m.server_version, m.id) > (p_since_version, p_since_id)
      order by m.server_version, m.id limit (select n from lim))
  ),
  page as (select * from changes order by v, id limit (select n from lim)),
  last as (select v, id from page order by v desc, id desc limit 1)
  select json_build_object(
    'rows',     coalesce((select json_agg(json_build_object('t', t, 'r', r) order by v, id) from page), '[]'::json),
    'next',     json_build_object('version', coalesce((select v from last), p_since_version),
                                  'id',      coalesce((select id from last), p_since_id)),
    'has_more', (select count(*) from page) = (select n from lim),
    'head',     sync.head())
$$;
revoke all on function public.sync_pull(bigint, uuid, int) from public, anon;
grant execute on function public.sync_pull(bigint, uuid, int) to authenticated;
