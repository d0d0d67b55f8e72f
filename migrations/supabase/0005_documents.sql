-- Hearth server schema 0005: documents sync like the other data.
--
-- A workspace's documents: their metadata, their extracted text and their outline (where each
-- chunk sits in the text: a chunk is exactly text[start..end], so the chunks' text travels
-- once). Every field merges by its stamp like a chat's; a removed document is a tombstone
-- with no text. Vectors never come here: each device embeds the documents it pulls.
--
-- The push and pull functions are redefined with the new table in their lists; the pull also
-- ends a page before it passes about 8 MB. Everything else about them is as in version 2.

create table if not exists public.documents (
  id             uuid primary key,
  user_id        uuid not null default auth.uid() references auth.users(id) on delete cascade,
  workspace_id   uuid not null,
  path           text not null default '',
  title          text not null default '',
  format         text not null default 'text' check (format in ('markdown', 'text', 'code', 'html', 'pdf', 'docx')),
  sha256         text not null default '',
  size           bigint not null default 0,
  text           text not null default '',
  outline        jsonb not null default '[]'::jsonb check (jsonb_typeof(outline) = 'array'),
  deleted_at     timestamptz,
  field_hlc      jsonb not null default '{}'::jsonb,
  server_version bigint not null default 0,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now(),
  unique (id, user_id),
  foreign key (workspace_id, user_id) references public.workspaces (id, user_id) deferrable initially deferred
);

create index if not exists documents_pull_idx on public.documents (user_id, server_version, id);
drop trigger if exists sync_stamp on public.documents;
create trigger sync_stamp before insert or update on public.documents for each row execute function sync.stamp();
alter table public.documents enable row level security;
alter table public.documents force row level security;
drop policy if exists own_select on public.documents;
drop policy if exists own_insert on public.documents;
drop policy if exists own_update on public.documents;
create policy own_select on public.documents for select to authenticated using (user_id = (select auth.uid()));
create policy own_insert on public.documents for insert to authenticated with check (user_id = (select auth.uid()));
create policy own_update on public.documents for update to authenticated
  using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
revoke all on public.documents from anon, authenticated;
grant select, insert, update on public.documents to authenticated;
grant all on public.documents to service_role;

-- ---------------------------------------------------------------- push RPC (version 2, plus documents)
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
        if v_tbl is null or v_tbl <> all (array['workspaces','chats','messages','workflows','documents']) then
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
        elsif v_tbl = 'workflows' then
          v_exists := exists (select 1 from public.workflows where id = v_id);
        elsif v_tbl = 'documents' then
          v_exists := exists (select 1 from public.documents where id = v_id);
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

-- ---------------------------------------------------------------- pull RPC (version 2, plus documents)
-- A page now also ends before it passes about 8 MB of rows (always at least one row): a page
-- of 2000 documents, each with its text, would otherwise be gigabytes in one answer. Rows are
-- sized from their large columns' stored lengths (octet_length and pg_column_size read a
-- value's header, not the value), and only the rows of the page are turned into JSON.
create or replace function public.sync_pull(p_since_version bigint, p_since_id uuid default '00000000-0000-0000-0000-000000000000', p_limit int default 1000)
returns json
language sql stable security invoker set search_path = '' as $$
  with lim as (select least(greatest(p_limit, 1), 5000) as n),
  changes as (
    (select 'workspaces'::text as t, w.server_version as v, w.id as id,
            1024 + octet_length(w.system_prompt) + octet_length(w.knowledge_base) + pg_column_size(w.settings) as size
       from public.workspaces w
      where w.user_id = (select auth.uid()) and (w.server_version, w.id) > (p_since_version, p_since_id)
      order by w.server_version, w.id limit (select n from lim))
    union all
    (select 'chats', c.server_version, c.id, 1024 from public.chats c
      where c.user_id = (select auth.uid()) and (c.server_version, c.id) > (p_since_version, p_since_id)
      order by c.server_version, c.id limit (select n from lim))
    union all
    (select 'messages', m.server_version, m.id, 1024 + octet_length(m.content) + pg_column_size(m.citations) from public.messages m
      where m.user_id = (select auth.uid()) and (m.server_version, m.id) > (p_since_version, p_since_id)
      order by m.server_version, m.id limit (select n from lim))
    union all
    (select 'workflows', f.server_version, f.id, 1024 + pg_column_size(f.graph) from public.workflows f
      where f.user_id = (select auth.uid()) and (f.server_version, f.id) > (p_since_version, p_since_id)
      order by f.server_version, f.id limit (select n from lim))
    union all
    (select 'documents', d.server_version, d.id, 1024 + octet_length(d.text) + pg_column_size(d.outline) from public.documents d
      where d.user_id = (select auth.uid()) and (d.server_version, d.id) > (p_since_version, p_since_id)
      order by d.server_version, d.id limit (select n from lim))
  ),
  candidates as (select * from changes order by v, id limit (select n from lim)),
  sized as (select c.*, coalesce(sum(c.size) over (order by c.v, c.id rows between unbounded preceding and 1 preceding), 0) as before
              from candidates c),
  page as (select t, v, id from sized where before < 8000000),
  rows as (
    select p.t, p.v, p.id, case p.t
      when 'workspaces' then (select row_to_json(w) from public.workspaces w where w.id = p.id)
      when 'chats'      then (select row_to_json(c) from public.chats c where c.id = p.id)
      when 'messages'   then (select row_to_json(m) from public.messages m where m.id = p.id)
      when 'workflows'  then (select row_to_json(f) from public.workflows f where f.id = p.id)
      else                   (select row_to_json(d) from public.documents d where d.id = p.id)
    end as r
    from page p),
  last as (select v, id from page order by v desc, id desc limit 1)
  select json_build_object(
    'rows',     coalesce((select json_agg(json_build_object('t', t, 'r', r) order by v, id) from rows), '[]'::json),
    'next',     json_build_object('version', coalesce((select v from last), p_since_version),
                                  'id',      coalesce((select id from last), p_since_id)),
    'has_more', (select count(*) from page) < (select count(*) from candidates) or (select count(*) from page) = (select n from lim),
    'head',     sync.head())
$$;
revoke all on function public.sync_pull(bigint, uuid, int) from public, anon;
grant execute on function public.sync_pull(bigint, uuid, int) to authenticated;
