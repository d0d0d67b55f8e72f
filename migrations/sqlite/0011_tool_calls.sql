-- Hearth local schema, version 11: replies that call tools.
--
-- A reply that calls tools is a run of messages on one branch: the assistant message that made
-- the calls (`tool_calls`, a JSON array of `{id, name, arguments}`, arguments as the model
-- wrote them), one `tool` message per call holding its result (`tool_call_id` names the call),
-- then the assistant message that continues with the results (which may call again). Both are
-- fields of a message like the others, so branches, search, export and sync see them.
ALTER TABLE messages ADD COLUMN tool_calls TEXT NOT NULL DEFAULT '[]'
    CHECK (json_valid(tool_calls) AND json_type(tool_calls) = 'array');
ALTER TABLE messages ADD COLUMN tool_call_id TEXT;
