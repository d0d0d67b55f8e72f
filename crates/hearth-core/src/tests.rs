//! Use-case tests over an in-memory store.

use hearth_types::{Handle, NewWorkspace, Role, Timezone, WorkspacePatch};

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
    let err = core
        .add_message(chat.id, &AddMessage { idempotency_key: Some(" ".into()), ..AddMessage::user("hi") })
        .unwrap_err();
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
