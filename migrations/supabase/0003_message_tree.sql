-- Hearth server schema 0003: the chat tree cannot loop.
--
-- Devices walk a chat up and down its messages' parent_id. A message whose parent_id closes a
-- cycle (or names the message itself) made every device spin at every start; devices now
-- refuse such a row on pull, and the server refuses to store one: a message's parent is set
-- when it is written and never changes (edits and regenerations are new sibling messages), and
-- a new message may not be the ancestor of its own parent. Both errors are integrity errors
-- (23514), so sync_push rejects only the transaction that carried them, and a direct PATCH
-- through PostgREST fails the same way. A message's chat_id is fixed after insert the same way.

create or replace function sync.message_tree() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if tg_op = 'UPDATE' then
    if new.parent_id is distinct from old.parent_id then
      raise exception 'a message''s parent_id cannot change after it is written (message %)', new.id
        using errcode = '23514';
    end if;
    -- Moved to another chat, a message would take its branch along where walks do not expect it.
    if new.chat_id is distinct from old.chat_id then
      raise exception 'a message''s chat_id cannot change after it is written (message %)', new.id
        using errcode = '23514';
    end if;
    return new;
  end if;
  if new.parent_id is null then
    return new;
  end if;
  if new.parent_id = new.id then
    raise exception 'message % cannot be its own parent', new.id using errcode = '23514';
  end if;
  -- Walk up from the parent (bounded, like the devices' walks); reaching the new row is a cycle.
  -- Only a row that already has replies can close one: an insert of a fresh id never walks.
  -- One user's inserts that name a parent take turns (until commit): two at once that name each
  -- other would each see no replies and both commit the loop.
  perform pg_advisory_xact_lock(hashtextextended('hearth.message_tree:' || new.user_id::text, 0));
  if exists (select 1 from public.messages c where c.parent_id = new.id and c.user_id = new.user_id)
     and exists (
       with recursive up(id, depth) as (
         select m.parent_id, 1 from public.messages m where m.id = new.parent_id and m.user_id = new.user_id
         union all
         select m.parent_id, up.depth + 1 from public.messages m join up on m.id = up.id
          where m.user_id = new.user_id and up.depth < 100000)
       select 1 from up where up.id = new.id) then
    raise exception 'parent_id % of message % would make a cycle', new.parent_id, new.id using errcode = '23514';
  end if;
  return new;
end $$;

-- BEFORE triggers run in name order: after sync_stamp has merged the row, so the check sees
-- the values that would be stored.
drop trigger if exists sync_tree on public.messages;
create trigger sync_tree before insert or update on public.messages
  for each row execute function sync.message_tree();

-- The parent lookups of the walk and the "has replies" test.
create index if not exists messages_parent_idx on public.messages (parent_id);
