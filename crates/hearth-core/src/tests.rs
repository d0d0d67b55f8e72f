//! Use-case tests over an in-memory store.

use hearth_types::{Handle, MessageStatus, NewWorkspace, Role, Timezone, WorkspacePatch};

use super::*;

fn core_with_workspace() -> (Core, WorkspaceRef) {
    let core = Core::in_memory().unwrap();
    let new = NewWorkspace::new("Notes", Handle::parse("notes").unwrap()).unwrap();
    core.create_workspace(&new).unwrap();
    (core, "notes".parse().unwrap())
}

fn contents(core: &Core, chat: ChatId) -> Vec<String> {
    core.thread(chat).unwrap().messages.into_iter().map(|m| m.message.content).collect()
}

#[test]
fn workspace_refs_parse_ids_and_handles() {
    let id = WorkspaceId::new();
    assert_eq!(id.to_string().parse::<WorkspaceRef>().unwrap(), WorkspaceRef::Id(id));
    assert_eq!("my-notes".parse::<WorkspaceRef>().unwrap(), WorkspaceRef::Handle(Handle::parse("my-notes").unwrap()));
    assert_eq!("Not A Handle".parse::<WorkspaceRef>().unwrap_err().field, "workspace");
}

#[test]
fn workspaces_are_found_by_id_or_handle_and_updated() {
    let (core, notes) = core_with_workspace();
    let ws = core.workspace(&notes).unwrap();
    assert_eq!(core.workspace(&WorkspaceRef::Id(ws.id)).unwrap(), ws);
    let patch = WorkspacePatch { timezone: Some(Timezone::parse("Europe/Paris").unwrap()), ..Default::default() };
    assert_eq!(core.update_workspace(&notes, &patch).unwrap().timezone.as_str(), "Europe/Paris");
    assert_eq!(core.rename_workspace(&notes, "  Field notes ").unwrap().name, "Field notes");
    let err = core.rename_workspace(&notes, "   ").unwrap_err();
    assert_eq!((err.code(), err.field()), (ErrorCode::Invalid, Some("name")));
    core.delete_workspace(&notes).unwrap();
    let err = core.workspace(&notes).unwrap_err();
    assert_eq!((err.code(), err.field()), (ErrorCode::NotFound, Some("handle")));
}

#[test]
fn messages_continue_the_branch_on_screen() {
    let (core, notes) = core_with_workspace();
    let chat = core.create_chat(&notes, "Plans", None).unwrap();
    let q = core.add_message(chat.id, &AddMessage::user("what next?")).unwrap().message;
    let a = core.add_message(chat.id, &AddMessage { role: Role::Assistant, ..AddMessage::user("tea") }).unwrap().message;
    assert_eq!(a.parent_id, Some(q.id));
    assert_eq!(contents(&core, chat.id), ["what next?", "tea"]);

    // Editing the question makes a new branch and shows it; the old one is still there.
    let edited = core.edit_message(q.id, "what now?").unwrap();
    assert_eq!(edited.parent_id, None);
    let thread = core.thread(chat.id).unwrap();
    assert_eq!(contents(&core, chat.id), ["what now?"]);
    assert_eq!((thread.messages[0].sibling_index, thread.messages[0].sibling_count), (1, 2));
    core.add_message(chat.id, &AddMessage { role: Role::Assistant, ..AddMessage::user("coffee") }).unwrap();
    assert_eq!(contents(&core, chat.id), ["what now?", "coffee"]);

    core.switch_branch(chat.id, q.id).unwrap();
    assert_eq!(contents(&core, chat.id), ["what next?", "tea"]);
}

#[test]
fn empty_messages_and_keys_are_refused() {
    let (core, notes) = core_with_workspace();
    let chat = core.create_chat(&notes, "", None).unwrap();
    let err = core.add_message(chat.id, &AddMessage::user(" \n")).unwrap_err();
    assert_eq!((err.code(), err.field()), (ErrorCode::Invalid, Some("content")));
    let err = core.add_message(chat.id, &AddMessage { idempotency_key: Some(" ".into()), ..AddMessage::user("hi") }).unwrap_err();
    assert_eq!(err.field(), Some("idempotency_key"));
    let err = core.add_message(ChatId::new(), &AddMessage::user("hi")).unwrap_err();
    assert_eq!((err.code(), err.field()), (ErrorCode::NotFound, Some("chat_id")));
}

#[test]
fn search_can_be_scoped_to_a_workspace() {
    let (core, notes) = core_with_workspace();
    core.create_workspace(&NewWorkspace::new("Work", Handle::parse("work").unwrap()).unwrap()).unwrap();
    let work: WorkspaceRef = "work".parse().unwrap();
    let a = core.create_chat(&notes, "a", None).unwrap();
    let b = core.create_chat(&work, "b", None).unwrap();
    core.add_message(a.id, &AddMessage::user("sourdough starter")).unwrap();
    core.add_message(b.id, &AddMessage::user("sourdough budget")).unwrap();
    assert_eq!(core.search("sourdough", None, 10).unwrap().len(), 2);
    let hits = core.search("sourdough", Some(&work), 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].chat_id, b.id);
}

#[test]
fn status_reports_a_sound_database() {
    let (core, _) = core_with_workspace();
    let status = core.store_status().unwrap();
    assert_eq!(status.schema_version, SCHEMA_VERSION);
    assert!(status.integrity_problems.is_empty());
    assert_eq!(status.pending_changes, 1);
}

// ---------------------------------------------------------------- replies, with a scripted model

mod scripted {
    use std::sync::Mutex;
    use std::sync::mpsc;

    use hearth_llm::*;

    /// Plays back fixed deltas, then finishes (or fails); records what it was asked.
    pub(crate) struct Scripted {
        pub(crate) deltas: Vec<&'static str>,
        pub(crate) end: Result<FinishReason, LlmError>,
        pub(crate) seen: Mutex<Vec<ChatRequest>>,
    }

    impl ChatModel for Scripted {
        fn chat(&self, request: ChatRequest, cancel: CancelToken) -> Result<ChatStream, LlmError> {
            request.params.validate()?;
            self.seen.lock().unwrap().push(request);
            let (tx, rx) = mpsc::channel();
            for d in &self.deltas {
                if cancel.is_cancelled() {
                    break;
                }
                tx.send(Ok(ChatEvent::Delta((*d).to_owned()))).unwrap();
            }
            let usage = Usage { prompt_tokens: 7, completion_tokens: self.deltas.len() as u32, cached_prompt_tokens: 0 };
            match &self.end {
                Ok(reason) => tx.send(Ok(ChatEvent::Finished { reason: *reason, usage, timings: Timings::default() })).unwrap(),
                Err(e) => tx.send(Err(e.clone())).unwrap(),
            }
            Ok(ChatStream::new(rx, cancel))
        }

        fn embed(&self, _: &str, _: &[hearth_llm::EmbedInput]) -> Result<hearth_llm::Embeddings, LlmError> {
            Ok(hearth_llm::Embeddings::default())
        }
    }
}

fn reply_setup(system_prompt: &str) -> (Core, ChatId) {
    let (core, notes) = core_with_workspace();
    core.update_workspace(&notes, &WorkspacePatch { system_prompt: Some(system_prompt.into()), ..Default::default() }).unwrap();
    let chat = core.create_chat(&notes, "t", None).unwrap();
    (core, chat.id)
}

fn request(chat: ChatId, text: &str) -> ReplyRequest {
    ReplyRequest::new(chat, text, "m", hearth_llm::SamplingParams::greedy(8))
}

#[test]
fn a_reply_is_streamed_and_stored_complete() {
    let (core, chat) = reply_setup("Be brief.");
    core.add_message(chat, &AddMessage::user("earlier question")).unwrap();
    let model = scripted::Scripted { deltas: vec!["Hel", "lo"], end: Ok(hearth_llm::FinishReason::Stop), seen: Default::default() };
    let mut streamed = String::new();
    let reply = core.reply(&request(chat, "hi"), &model, &hearth_llm::CancelToken::new(), |t| streamed.push_str(t)).unwrap();
    assert_eq!(streamed, "Hello");
    assert_eq!(reply.answer.content, "Hello");
    assert_eq!(reply.answer.status, MessageStatus::Complete);
    assert_eq!((reply.answer.prompt_tokens, reply.answer.completion_tokens), (Some(7), Some(2)));
    assert_eq!(reply.answer.parent_id, Some(reply.question.id));
    assert!(reply.answer.latency_ms.is_some());
    // The model saw the system prompt and the branch, ending with the new question.
    let seen = model.seen.lock().unwrap();
    let roles: Vec<_> = seen[0].messages.iter().map(|m| (m.role, m.content.as_str())).collect();
    assert_eq!(roles, [(Role::System, "Be brief."), (Role::User, "earlier question"), (Role::User, "hi")]);
    let thread: Vec<_> = core.thread(chat).unwrap().messages.into_iter().map(|m| m.message.content).collect();
    assert_eq!(thread, ["earlier question", "hi", "Hello"]);
}

#[test]
fn a_cancelled_reply_keeps_its_partial_text() {
    let (core, chat) = reply_setup("");
    let model = scripted::Scripted { deltas: vec!["par", "tial"], end: Ok(hearth_llm::FinishReason::Cancelled), seen: Default::default() };
    let reply = core.reply(&request(chat, "go"), &model, &hearth_llm::CancelToken::new(), |_| {}).unwrap();
    assert_eq!((reply.answer.status, reply.answer.content.as_str()), (MessageStatus::Cancelled, "partial"));
    assert!(model.seen.lock().unwrap()[0].messages.iter().all(|m| m.role != Role::System), "no empty system prompt");
}

#[test]
fn a_failed_reply_is_stored_as_an_error_and_returned() {
    let (core, chat) = reply_setup("");
    let model =
        scripted::Scripted { deltas: vec!["so far"], end: Err(hearth_llm::LlmError::Engine("boom".into())), seen: Default::default() };
    let err = core.reply(&request(chat, "go"), &model, &hearth_llm::CancelToken::new(), |_| {}).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Unavailable);
    let last = core.thread(chat).unwrap().messages.pop().unwrap().message;
    assert_eq!(
        (last.status, last.content.as_str(), last.error.as_deref()),
        (MessageStatus::Error, "so far", Some("inference failed: boom"))
    );

    // A refused request (bad parameter) is stored as an error too; nothing stays "streaming".
    let mut bad = request(chat, "again");
    bad.params.temperature = -1.0;
    let err = core.reply(&bad, &model, &hearth_llm::CancelToken::new(), |_| {}).unwrap_err();
    assert_eq!((err.code(), err.field()), (ErrorCode::Invalid, Some("temperature")));
    let last = core.thread(chat).unwrap().messages.pop().unwrap().message;
    assert_eq!(last.status, MessageStatus::Error);
}

#[test]
fn a_replayed_send_returns_the_first_reply_and_asks_nothing() {
    let (core, chat) = reply_setup("");
    let model = scripted::Scripted { deltas: vec!["once"], end: Ok(hearth_llm::FinishReason::Stop), seen: Default::default() };
    let keyed = ReplyRequest { idempotency_key: Some("k".into()), ..request(chat, "hi") };
    let first = core.reply(&keyed, &model, &hearth_llm::CancelToken::new(), |_| {}).unwrap();
    let again = core.reply(&keyed, &model, &hearth_llm::CancelToken::new(), |_| {}).unwrap();
    assert_eq!((again.question.id, again.answer.id), (first.question.id, first.answer.id));
    assert_eq!(again.answer.content, "once");
    assert_eq!(model.seen.lock().unwrap().len(), 1, "the model answered once");
    assert_eq!(core.thread(chat).unwrap().messages.len(), 2);

    // A question stored without its reply (the first send died in between) gets one now.
    core.add_message(chat, &AddMessage { idempotency_key: Some("orphan".into()), ..AddMessage::user("lonely") }).unwrap();
    let orphan = ReplyRequest { idempotency_key: Some("orphan".into()), ..request(chat, "lonely") };
    let started = core.start_reply(&orphan).unwrap();
    assert!(!started.replayed);
    assert_eq!(started.answer.parent_id, Some(started.question.id));
}

#[test]
fn the_first_registered_model_becomes_the_default() {
    let core = Core::in_memory().unwrap();
    let new = |name: &str| hearth_types::NewModel {
        name: name.into(),
        path: "/m.gguf".into(),
        size: 1,
        sha256: "00".repeat(32),
        architecture: "gemma3".into(),
        parameters: 1,
        quantization: "Q4_K_M".into(),
        context_length: None,
        chat_template: None,
        source: hearth_types::ModelSource::Import,
    };
    assert!(core.default_model().unwrap().is_none());
    core.register_model(&new("first")).unwrap();
    core.register_model(&new("second")).unwrap();
    assert_eq!(core.default_model().unwrap().unwrap().name, "first");
    let err = core.register_model(&new("bad name!")).unwrap_err();
    assert_eq!((err.code(), err.field()), (ErrorCode::Invalid, Some("name")));
}
