-- Hearth server schema 0006: replies that call tools.
--
-- An assistant message keeps the calls it made (`tool_calls`, a JSON array of
-- `{id, name, arguments}`), and a `tool` message the call it answers (`tool_call_id`). Both
-- are fields like the others (the last write by its stamp in field_hlc wins). Devices check a
-- pulled value's shape (a bad one is quarantined); here it must at least be an array. A device
-- that predates the columns does not send them, and push ignores what a table lacks.

alter table public.messages add column if not exists tool_calls jsonb not null default '[]'::jsonb;
alter table public.messages add column if not exists tool_call_id text;

alter table public.messages drop constraint if exists messages_tool_calls_array;
alter table public.messages add constraint messages_tool_calls_array check (jsonb_typeof(tool_calls) = 'array');
