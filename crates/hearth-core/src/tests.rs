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
    use hearth_llm::testing::ScriptedModel;
    use hearth_llm::{FinishReason, LlmError, Usage};

    /// Plays back `pieces`, then ends with `end`; reports 7 prompt tokens.
    pub(crate) fn scripted(pieces: &[&str], end: Result<FinishReason, LlmError>) -> ScriptedModel {
        let usage = Usage { prompt_tokens: 7, completion_tokens: pieces.len() as u32, cached_prompt_tokens: 0 };
        let model = ScriptedModel::new(pieces.iter().copied()).with_usage(usage);
        match end {
            Ok(reason) => model.finishing(reason),
            Err(e) => model.failing(e),
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
    let model = scripted::scripted(&["Hel", "lo"], Ok(hearth_llm::FinishReason::Stop));
    let mut streamed = String::new();
    let reply = core.reply(&request(chat, "hi"), &model, &hearth_llm::CancellationToken::new(), |t| streamed.push_str(t)).unwrap();
    assert_eq!(streamed, "Hello");
    assert_eq!(reply.answer.content, "Hello");
    assert_eq!(reply.answer.status, MessageStatus::Complete);
    assert_eq!((reply.answer.prompt_tokens, reply.answer.completion_tokens), (Some(7), Some(2)));
    assert_eq!(reply.answer.parent_id, Some(reply.question.id));
    assert!(reply.answer.latency_ms.is_some());
    // The model saw the system prompt and the branch, ending with the new question.
    let seen = model.seen();
    let roles: Vec<_> = seen[0].messages.iter().map(|m| (m.role, m.content.as_str())).collect();
    assert_eq!(roles, [(Role::System, "Be brief."), (Role::User, "earlier question"), (Role::User, "hi")]);
    let thread: Vec<_> = core.thread(chat).unwrap().messages.into_iter().map(|m| m.message.content).collect();
    assert_eq!(thread, ["earlier question", "hi", "Hello"]);
}

#[test]
fn a_cancelled_reply_keeps_its_partial_text() {
    let (core, chat) = reply_setup("");
    let model = scripted::scripted(&["par", "tial"], Ok(hearth_llm::FinishReason::Cancelled));
    let reply = core.reply(&request(chat, "go"), &model, &hearth_llm::CancellationToken::new(), |_| {}).unwrap();
    assert_eq!((reply.answer.status, reply.answer.content.as_str()), (MessageStatus::Cancelled, "partial"));
    assert!(model.seen()[0].messages.iter().all(|m| m.role != Role::System), "no empty system prompt");
}

#[test]
fn a_failed_reply_is_stored_as_an_error_and_returned() {
    let (core, chat) = reply_setup("");
    let model = scripted::scripted(&["so far"], Err(hearth_llm::LlmError::Engine("boom".into())));
    let err = core.reply(&request(chat, "go"), &model, &hearth_llm::CancellationToken::new(), |_| {}).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Unavailable);
    let last = core.thread(chat).unwrap().messages.pop().unwrap().message;
    assert_eq!(
        (last.status, last.content.as_str(), last.error.as_deref()),
        (MessageStatus::Error, "so far", Some("inference failed: boom"))
    );

    // A refused request (bad parameter) is stored as an error too; nothing stays "streaming".
    let mut bad = request(chat, "again");
    bad.params.temperature = -1.0;
    let err = core.reply(&bad, &model, &hearth_llm::CancellationToken::new(), |_| {}).unwrap_err();
    assert_eq!((err.code(), err.field()), (ErrorCode::Invalid, Some("temperature")));
    let last = core.thread(chat).unwrap().messages.pop().unwrap().message;
    assert_eq!(last.status, MessageStatus::Error);
}

#[test]
fn answering_again_regenerates_a_reply_or_answers_an_edit() {
    let (core, chat) = reply_setup("");
    let model = scripted::scripted(&["first"], Ok(hearth_llm::FinishReason::Stop));
    let first = core.reply(&request(chat, "q"), &model, &hearth_llm::CancellationToken::new(), |_| {}).unwrap();
    let greedy = hearth_llm::SamplingParams::greedy(8);

    // Regenerate: a reply names its question; the new answer is a sibling, shown now.
    let again = core.start_answer(first.answer.id, "m", greedy.clone()).unwrap();
    assert_eq!((again.question.id, again.answer.parent_id), (first.question.id, Some(first.question.id)));
    let again = core.run_reply(again, &model, &hearth_llm::CancellationToken::new(), |_| {}).unwrap();
    let thread = core.thread(chat).unwrap().messages;
    assert_eq!((thread[1].message.id, thread[1].sibling_index, thread[1].sibling_count), (again.answer.id, 1, 2));
    let ids: Vec<_> = core.siblings(first.answer.id).unwrap().into_iter().map(|m| m.id).collect();
    assert_eq!(ids, [first.answer.id, again.answer.id]);
    // The model read the same conversation both times, not the first answer.
    let seen = model.seen();
    assert_eq!(seen[0].messages, seen[1].messages);
    drop(seen);

    // An edit adds no reply of its own; answering it puts the reply under the new text.
    let edited = core.edit_message(first.question.id, "q, put better").unwrap();
    let answer = core.start_answer(edited.id, "m", greedy.clone()).unwrap();
    assert_eq!((answer.question.id, answer.answer.parent_id), (edited.id, Some(edited.id)));
    core.run_reply(answer, &model, &hearth_llm::CancellationToken::new(), |_| {}).unwrap();
    assert_eq!(contents(&core, chat), ["q, put better", "first"]);
    assert_eq!(model.seen()[2].messages.last().unwrap().content, "q, put better");

    // A message that does not exist cannot be answered.
    let err = core.start_answer(MessageId::new(), "m", greedy).unwrap_err();
    assert_eq!((err.code(), err.field()), (ErrorCode::NotFound, Some("message_id")));
}

#[test]
fn a_replayed_send_returns_the_first_reply_and_asks_nothing() {
    let (core, chat) = reply_setup("");
    let model = scripted::scripted(&["once"], Ok(hearth_llm::FinishReason::Stop));
    let keyed = ReplyRequest { idempotency_key: Some("k".into()), ..request(chat, "hi") };
    let first = core.reply(&keyed, &model, &hearth_llm::CancellationToken::new(), |_| {}).unwrap();
    let again = core.reply(&keyed, &model, &hearth_llm::CancellationToken::new(), |_| {}).unwrap();
    assert_eq!((again.question.id, again.answer.id), (first.question.id, first.answer.id));
    assert_eq!(again.answer.content, "once");
    assert_eq!(model.seen().len(), 1, "the model answered once");
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

// ------------------------------------------------------------------ providers and routing

mod routing {
    use std::sync::Arc;
    use std::time::Duration;

    use hearth_llm::remote::{RetryPolicy, Timeouts};
    use hearth_llm::{CancellationToken, ChatEvent, ChatMessage, ChatModel, ChatRequest, FinishReason, SamplingParams};
    use hearth_secrets::Secret;
    use hearth_types::{MessageStatus, NewProvider, ProviderPatch, Role, WorkspacePatch};

    use super::*;

    const KEY: &str = "sk-unit-test-KEY-0042";

    /// A provider URL where nothing listens (the port was bound, noted, and let go).
    fn dead_url() -> String {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        format!("http://127.0.0.1:{port}/v1")
    }

    fn add_dead(core: &Core, name: &str) {
        let new =
            NewProvider { base_url: Some(dead_url()), default_model: Some("m".into()), ..NewProvider::new(name, "openai-compatible") };
        core.add_provider(&new).unwrap();
    }

    fn quick(core: &Core) {
        let t = Timeouts { connect: Duration::from_secs(2), first_byte: Duration::from_secs(2), idle: Duration::from_secs(2) };
        core.set_remote_policy(t, RetryPolicy { max_retries: 0, ..RetryPolicy::default() });
    }

    #[test]
    fn providers_are_checked_when_saved_and_keys_stay_in_the_secret_store() {
        let dir = tempfile::tempdir().unwrap();
        let core = Core::open(&CoreConfig::new(dir.path()), crate::CoreServices::in_memory()).unwrap();
        let added = core.add_provider(&NewProvider::new("work", "openai")).unwrap();
        assert_eq!(added.provider.base_url, "https://api.openai.com/v1", "the preset's URL");
        assert_eq!((added.key.set, added.needs_key, added.protocol.as_str()), (false, true, "openai"));
        let groq = core.add_provider(&NewProvider::new("fast", "groq")).unwrap();
        assert_eq!(groq.provider.base_url, "https://api.groq.com/openai/v1");

        let refused = |new: NewProvider| core.add_provider(&new).unwrap_err().field();
        assert_eq!(refused(NewProvider::new("x", "nope")), Some("kind"));
        assert_eq!(refused(NewProvider::new("local", "openai")), Some("name"));
        assert_eq!(refused(NewProvider::new("Bad Name", "openai")), Some("name"));
        assert_eq!(refused(NewProvider::new("custom", "openai-compatible")), Some("base_url"), "a custom server needs its URL");
        assert_eq!(refused(NewProvider { base_url: Some("not a url".into()), ..NewProvider::new("x", "openai") }), Some("base_url"));
        assert_eq!(
            refused(NewProvider { base_url: Some(format!("https://u:{KEY}@h/v1")), ..NewProvider::new("x", "openai") }),
            Some("base_url")
        );
        let mut headers = serde_json::Map::new();
        headers.insert("Authorization".into(), format!("Bearer {KEY}").into());
        assert_eq!(refused(NewProvider { headers, ..NewProvider::new("x", "openai") }), Some("headers"), "credentials go to the keychain");
        assert_eq!(core.add_provider(&NewProvider::new("work", "openai")).unwrap_err().code(), ErrorCode::Conflict);
        let bad_patch = ProviderPatch { base_url: Some("ftp://x".into()), ..Default::default() };
        assert_eq!(core.update_provider("work", &bad_patch, None).unwrap_err().field(), Some("base_url"));

        assert_eq!(core.set_provider_key("work", &Secret::new("two words")).unwrap_err().field(), Some("key"));
        let keyed = core.set_provider_key("work", &Secret::new(KEY)).unwrap();
        assert_eq!((keyed.key.set, keyed.key.last_four.as_deref()), (true, Some("0042")));
        assert_eq!(core.secrets().unwrap().get("provider:work").unwrap().unwrap().expose(), KEY);
        // Nothing of the key reaches the database.
        let db = std::fs::read(core.database_path()).unwrap();
        let wal = std::fs::read(core.database_path().with_extension("db-wal")).unwrap_or_default();
        for bytes in [db, wal] {
            assert!(!bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()));
        }
        assert!(!core.remove_provider_key("work").unwrap().key.set);
        core.set_provider_key("work", &Secret::new(KEY)).unwrap();
        core.remove_provider("work").unwrap();
        assert_eq!(core.secrets().unwrap().get("provider:work").unwrap(), None, "removing a provider removes its key");
        assert_eq!(core.providers().unwrap().len(), 1);
    }

    #[test]
    fn moving_a_provider_to_another_host_needs_its_key_again() {
        let core = Core::in_memory().unwrap().with_secrets(Arc::new(hearth_secrets::MemoryStore::new()));
        let new = NewProvider { base_url: Some("https://one.example/v1".into()), ..NewProvider::new("work", "openai-compatible") };
        core.add_provider(&new).unwrap();
        core.set_provider_key("work", &Secret::new(KEY)).unwrap();
        let to = |url: &str| ProviderPatch { base_url: Some(url.into()), ..Default::default() };
        let stored = || core.secrets().unwrap().get("provider:work").unwrap().map(|s| s.expose().to_owned());

        let same_host = core.update_provider("work", &to("https://ONE.example:443/v2"), None).unwrap();
        assert_eq!((same_host.provider.base_url.as_str(), same_host.key.set), ("https://one.example/v2", true), "a new path keeps the key");
        for elsewhere in ["https://two.example/v1", "https://one.example:8443/v1", "http://127.0.0.1:8080/v1"] {
            let e = core.update_provider("work", &to(elsewhere), None).unwrap_err();
            assert_eq!((e.code(), e.field()), (ErrorCode::Invalid, Some("api_key")), "{elsewhere}");
            assert!(e.to_string().contains("give the key again"), "{e}");
        }
        assert_eq!(core.provider("work").unwrap().provider.base_url, "https://one.example/v2", "a refused move changes nothing");
        assert_eq!(stored().as_deref(), Some(KEY));

        let bad = core.update_provider("work", &to("https://two.example/v1"), Some(&Secret::new("two words"))).unwrap_err();
        assert_eq!(bad.field(), Some("api_key"));
        let moved = core.update_provider("work", &to("https://two.example/v1"), Some(&Secret::new("sk-new-host-key-7777"))).unwrap();
        assert_eq!((moved.provider.base_url.as_str(), moved.key.last_four.as_deref()), ("https://two.example/v1", Some("7777")));
        assert_eq!(stored().as_deref(), Some("sk-new-host-key-7777"), "only the new key is kept");

        // Without a stored key there is nothing to send elsewhere: a keyless provider moves.
        core.remove_provider_key("work").unwrap();
        let keyless = core.update_provider("work", &to("http://localhost:11434/v1"), None).unwrap();
        assert_eq!((keyless.provider.base_url.as_str(), keyless.key.set), ("http://localhost:11434/v1", false));

        // A credential header stored before the header rule (written here behind Core's
        // check) does not follow the provider elsewhere either, unless the move replaces it.
        let mut headers = serde_json::Map::new();
        headers.insert("x-goog-api-key".into(), "AIza-old".into());
        core.store.write(|w| w.update_provider("work", &ProviderPatch { headers: Some(headers), ..Default::default() })).unwrap();
        let e = core.update_provider("work", &to("https://three.example/v1"), None).unwrap_err();
        assert_eq!(e.field(), Some("headers"), "{e}");
        let cleared = ProviderPatch { headers: Some(serde_json::Map::new()), ..to("https://three.example/v1") };
        assert_eq!(core.update_provider("work", &cleared, None).unwrap().provider.base_url, "https://three.example/v1");
    }

    #[test]
    fn headers_that_carry_credentials_are_refused_in_every_spelling() {
        let core = Core::in_memory().unwrap().with_secrets(Arc::new(hearth_secrets::MemoryStore::new()));
        let with_header = |name: &str| {
            let mut headers = serde_json::Map::new();
            headers.insert(name.into(), "v".into());
            NewProvider { headers, ..NewProvider::new("x", "openai") }
        };
        for credential in [
            "Authorization",
            "Proxy-Authorization",
            "x-api-key",
            "api-key",
            "X-Goog-Api-Key",
            "x-auth-token",
            "Cookie",
            "Helicone-Auth",
            "X-Amz-Security-Token",
        ] {
            let e = core.add_provider(&with_header(credential)).unwrap_err();
            assert_eq!(e.field(), Some("headers"), "{credential}");
            assert!(e.to_string().contains("carries a credential"), "{e}");
        }
        for plain in ["X-Title", "HTTP-Referer", "OpenAI-Organization"] {
            core.add_provider(&with_header(plain)).unwrap();
            core.remove_provider("x").unwrap();
        }
    }

    #[test]
    fn names_route_by_their_provider_prefix() {
        let core = Arc::new(Core::in_memory().unwrap());
        add_dead(&core, "remote");
        let local = Arc::new(scripted::scripted(&[], Ok(FinishReason::Stop)));
        let router = ModelRouter::new(core.clone(), local);
        assert!(matches!(router.resolve("gemma").unwrap(), Target::Local { model } if model == "gemma"));
        assert!(matches!(router.resolve("local/gemma").unwrap(), Target::Local { model } if model == "gemma"));
        let t = router.resolve("remote/org/model-1").unwrap();
        assert_eq!((t.provider(), t.model()), ("remote", "org/model-1"), "only the first slash splits");
        assert_eq!(router.resolve("remote/").unwrap().model(), "m", "the provider's default model");
        assert!(matches!(router.resolve("nobody/x").unwrap_err(), Error::Model(hearth_llm::LlmError::ModelNotFound(m)) if m == "nobody/x"));
        core.update_provider("remote", &ProviderPatch { enabled: Some(false), ..Default::default() }, None).unwrap();
        assert_eq!(router.resolve("remote/x").unwrap_err().code(), ErrorCode::Invalid, "a disabled provider");
    }

    #[test]
    fn a_fallback_chain_is_tried_in_order_and_every_call_is_logged() {
        let core = Arc::new(Core::in_memory().unwrap());
        quick(&core);
        add_dead(&core, "first");
        add_dead(&core, "second");
        let local = Arc::new(scripted::scripted(&["from ", "local"], Ok(FinishReason::Stop)));
        let router = ModelRouter::new(core.clone(), local.clone());
        let mut request = ChatRequest::new("first/m", vec![ChatMessage::new(Role::User, "hi")], SamplingParams::greedy(4));
        request.fallbacks = vec!["second/m".into(), "gemma".into()];
        let events: Vec<ChatEvent> = router.chat(request, CancellationToken::new()).unwrap().map(Result::unwrap).collect();
        let moves: Vec<(&str, &str)> = events
            .iter()
            .filter_map(|e| if let ChatEvent::Fallback { from, to, .. } = e { Some((from.as_str(), to.as_str())) } else { None })
            .collect();
        assert_eq!(moves, [("first/m", "second/m"), ("second/m", "gemma")]);
        assert!(
            matches!(&events[0], ChatEvent::Fallback { reason, .. } if reason.contains("provider first") && reason.contains("could not connect"))
        );
        assert_eq!(events.iter().filter(|e| matches!(e, ChatEvent::Delta(_))).count(), 2);
        assert_eq!(local.seen()[0].model, "gemma");
        let calls: Vec<_> = core.usage(None).unwrap().into_iter().map(|r| (r.provider, r.calls, r.errors)).collect();
        assert_eq!(calls, [("first".to_owned(), 1, 1), ("local".to_owned(), 1, 0), ("second".to_owned(), 1, 1)]);

        // Without a fallback the failure is the caller's.
        let alone = ChatRequest::new("first/m", vec![ChatMessage::new(Role::User, "hi")], SamplingParams::greedy(4));
        assert!(router.chat(alone, CancellationToken::new()).is_err());
        // A bad parameter is the request's fault: no other model is tried.
        let mut bad = ChatRequest::new(
            "first/m",
            vec![ChatMessage::new(Role::User, "hi")],
            SamplingParams { max_tokens: 0, ..SamplingParams::greedy(4) },
        );
        bad.fallbacks = vec!["gemma".into()];
        assert!(matches!(router.chat(bad, CancellationToken::new()), Err(hearth_llm::LlmError::Invalid { field: "max_tokens", .. })));
    }

    #[test]
    fn a_reply_records_which_model_answered_and_why() {
        let (core, notes) = core_with_workspace();
        let core = Arc::new(core);
        quick(&core);
        add_dead(&core, "cloud");
        let mut settings = serde_json::Map::new();
        settings.insert(FALLBACK_SETTING.into(), serde_json::json!(["gemma"]));
        core.update_workspace(&notes, &WorkspacePatch { settings: Some(settings), ..Default::default() }).unwrap();
        let bad = WorkspacePatch {
            settings: Some(serde_json::json!({ FALLBACK_SETTING: "gemma" }).as_object().unwrap().clone()),
            ..Default::default()
        };
        assert_eq!(core.update_workspace(&notes, &bad).unwrap_err().field(), Some("settings"));
        let chat = core.create_chat(&notes, "t", Some("cloud/m".into())).unwrap();
        let local = Arc::new(scripted::scripted(&["hello"], Ok(FinishReason::Stop)));
        let router = ModelRouter::new(core.clone(), local);
        let model = core.reply_model(chat.id).unwrap();
        let reply = core
            .reply(&ReplyRequest::new(chat.id, "hi", model, SamplingParams::greedy(4)), &router, &CancellationToken::new(), |_| {})
            .unwrap();
        assert_eq!(reply.answer.status, MessageStatus::Complete);
        assert_eq!((reply.answer.model.as_deref(), reply.answer.provider.as_deref()), (Some("gemma"), Some("local")));
        let notice = reply.answer.notice.unwrap();
        assert!(notice.starts_with("cloud/m failed (provider cloud: could not connect") && notice.ends_with("asked gemma"), "{notice}");
        let outcomes: Vec<_> = core.usage(None).unwrap().into_iter().map(|r| (r.provider, r.errors)).collect();
        assert_eq!(outcomes, [("cloud".to_owned(), 1), ("local".to_owned(), 0)]);
    }

    #[test]
    fn the_last_n_days_start_at_utc_midnight_and_absurd_spans_are_refused() {
        let today = since_days(1).unwrap();
        assert!(today <= hearth_types::Timestamp::now());
        assert_eq!(today.as_second() % 86_400, 0, "midnight UTC");
        assert_eq!(since_days(3).unwrap().as_second(), today.as_second() - 2 * 86_400);
        assert_eq!(since_days(u32::MAX), None);
    }

    /// A keychain that is locked: every call is refused.
    #[derive(Debug)]
    struct Locked;

    impl hearth_secrets::SecretStore for Locked {
        fn get(&self, _: &str) -> hearth_secrets::Result<Option<Secret>> {
            Err(hearth_secrets::SecretError::Unavailable { backend: "test", detail: "locked".into() })
        }
        fn set(&self, _: &str, _: &Secret) -> hearth_secrets::Result<()> {
            Err(hearth_secrets::SecretError::Unavailable { backend: "test", detail: "locked".into() })
        }
        fn delete(&self, _: &str) -> hearth_secrets::Result<bool> {
            Err(hearth_secrets::SecretError::Unavailable { backend: "test", detail: "locked".into() })
        }
        fn backend(&self) -> &'static str {
            "test"
        }
    }

    #[test]
    fn a_locked_keychain_is_reported_and_nothing_is_stored_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let core = Core::open(
            &CoreConfig::new(dir.path()),
            crate::CoreServices::new(std::sync::Arc::new(|| Ok(Arc::new(Locked) as Arc<dyn hearth_secrets::SecretStore>))),
        )
        .unwrap();
        let listed = core.add_provider(&NewProvider::new("work", "openai")).unwrap();
        assert_eq!((listed.key.set, listed.key.error.as_deref().map(|e| e.contains("locked"))), (false, Some(true)));
        let e = core.set_provider_key("work", &Secret::new(KEY)).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Unavailable);
        assert!(e.to_string().contains("keychain is not available"), "{e}");
        assert_eq!(
            core.remove_provider("work").unwrap_err().code(),
            ErrorCode::Unavailable,
            "the key cannot be removed, so neither is the provider"
        );
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                let bytes = std::fs::read(&path).unwrap();
                assert!(!bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()), "{}", path.display());
            }
        }
    }

    /// A provider that streams two pieces of a reply, then drops the connection.
    fn cutting_provider() -> String {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            hearth_llm::testing::read_request(&mut stream);
            stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n").unwrap();
            for piece in ["Hel", "lo"] {
                let event = format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{piece}\"}}}}]}}\n\n");
                write!(stream, "{:x}\r\n{event}\r\n", event.len()).unwrap();
            }
            stream.flush().unwrap();
            stream.shutdown(std::net::Shutdown::Both).unwrap();
        });
        url
    }

    #[test]
    fn a_connection_cut_mid_reply_keeps_the_partial_text_marked_error() {
        let (core, notes) = core_with_workspace();
        let core = Arc::new(core);
        quick(&core);
        let new = NewProvider {
            base_url: Some(cutting_provider()),
            default_model: Some("m".into()),
            ..NewProvider::new("flaky", "openai-compatible")
        };
        core.add_provider(&new).unwrap();
        // A fallback is configured, but tokens had streamed: the reply is not moved.
        let mut settings = serde_json::Map::new();
        settings.insert(FALLBACK_SETTING.into(), serde_json::json!(["gemma"]));
        core.update_workspace(&notes, &WorkspacePatch { settings: Some(settings), ..Default::default() }).unwrap();
        let chat = core.create_chat(&notes, "t", Some("flaky/".into())).unwrap();
        let local = Arc::new(scripted::scripted(&["never"], Ok(FinishReason::Stop)));
        let router = ModelRouter::new(core.clone(), local.clone());
        let mut shown = String::new();
        let request = ReplyRequest::new(chat.id, "hi", "flaky/", SamplingParams::greedy(8));
        let e = core.reply(&request, &router, &CancellationToken::new(), |t| shown.push_str(t)).unwrap_err();
        assert!(e.to_string().contains("provider flaky: the connection broke mid-reply"), "{e}");
        assert_eq!(e.code(), ErrorCode::Upstream);
        assert_eq!(shown, "Hello");
        let thread = core.thread(chat.id).unwrap();
        let answer = &thread.messages.last().unwrap().message;
        assert_eq!((answer.content.as_str(), answer.status), ("Hello", MessageStatus::Error));
        assert!(answer.error.as_deref().unwrap().contains("mid-reply"));
        assert!(local.seen().is_empty(), "no silent switch to the fallback after tokens streamed");
    }

    /// Fails inside the stream (after `chat` accepted the request) for the model `broken`;
    /// answers for any other.
    struct FailsInStream;

    impl ChatModel for FailsInStream {
        fn chat(
            &self,
            request: ChatRequest,
            cancel: CancellationToken,
        ) -> std::result::Result<hearth_llm::ChatStream, hearth_llm::LlmError> {
            let (tx, rx) = std::sync::mpsc::channel();
            if request.model == "broken" {
                tx.send(Err(hearth_llm::LlmError::Engine("died before its first token".into()))).unwrap();
            } else if !cancel.is_cancelled() {
                tx.send(Ok(ChatEvent::Delta("fine".into()))).unwrap();
                let usage = hearth_llm::Usage::default();
                tx.send(Ok(ChatEvent::Finished { reason: FinishReason::Stop, usage, timings: Default::default() })).unwrap();
            } else {
                let usage = hearth_llm::Usage::default();
                tx.send(Ok(ChatEvent::Finished { reason: FinishReason::Cancelled, usage, timings: Default::default() })).unwrap();
            }
            Ok(hearth_llm::ChatStream::new(rx, cancel))
        }

        fn embed(&self, _: &str, _: &[hearth_llm::EmbedInput]) -> std::result::Result<hearth_llm::Embeddings, hearth_llm::LlmError> {
            Ok(hearth_llm::Embeddings::default())
        }
    }

    impl hearth_llm::ModelHost for FailsInStream {
        fn load(&self, _: &str) -> std::result::Result<(), hearth_llm::LlmError> {
            Ok(())
        }
        fn unload(&self) {}
        fn loaded(&self) -> Option<String> {
            None
        }
    }

    #[test]
    fn a_model_that_fails_before_its_first_token_falls_back_without_cancelling_the_next() {
        let core = Arc::new(Core::in_memory().unwrap());
        let router = ModelRouter::new(core, Arc::new(FailsInStream));
        let mut request = ChatRequest::new("broken", vec![ChatMessage::new(Role::User, "hi")], SamplingParams::greedy(4));
        request.fallbacks = vec!["good".into()];
        let cancel = CancellationToken::new();
        let events: Vec<ChatEvent> = router.chat(request, cancel.clone()).unwrap().map(Result::unwrap).collect();
        assert!(
            matches!(&events[0], ChatEvent::Fallback { from, to, reason } if from == "broken" && to == "good" && reason.contains("died"))
        );
        assert_eq!(events[1], ChatEvent::Delta("fine".into()));
        assert!(matches!(events[2], ChatEvent::Finished { reason: FinishReason::Stop, .. }), "{events:?}");
    }
}
