-- Hearth server schema 0004: a reply keeps the knowledge passages it was given.
--
-- `citations` is one field of a message, like the others (the last write by its stamp in
-- field_hlc wins): a JSON array of the passages the reply was given, numbered as it cites
-- them, with each passage's text. Devices check every pulled value against the shape they
-- read (a bad one is quarantined, not applied); here it must at least be an array. A device
-- that predates the column simply does not send it, and push ignores what a table lacks.

alter table public.messages add column if not exists citations jsonb not null default '[]'::jsonb;

alter table public.messages drop constraint if exists messages_citations_array;
alter table public.messages add constraint messages_citations_array check (jsonb_typeof(citations) = 'array');
