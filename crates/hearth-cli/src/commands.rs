//! The data commands: workspaces, chats, messages and search. Each parses its arguments into
//! Hearth's types, makes one Core call and prints the result.

use std::io::Read;

use anyhow::Context;
use clap::{Args, Subcommand};
use hearth_core::{AddMessage, Core, WorkspaceRef};
use hearth_types::{ChatId, ChatPatch, Handle, MessageId, NewWorkspace, Role, Thread, Timezone, Workspace, WorkspacePatch};

use crate::failure::CmdResult;
use crate::output::{Output, preview, table};

#[derive(Debug, Subcommand)]
pub(crate) enum WorkspacesCommand {
    /// Create a workspace
    Create {
        /// Display name
        #[arg(long)]
        name: String,
        /// Short name used on the command line and in URLs: lowercase letters, digits, single hyphens
        #[arg(long)]
        handle: String,
        #[command(flatten)]
        fields: WorkspaceFields,
    },
    /// List workspaces
    List,
    /// Show one workspace (by handle or id)
    Show { workspace: String },
    /// Rename a workspace
    Rename { workspace: String, name: String },
    /// Change a workspace's fields
    Update {
        workspace: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        handle: Option<String>,
        #[command(flatten)]
        fields: WorkspaceFields,
    },
    /// Delete a workspace and its chats
    Rm { workspace: String },
}

/// Optional workspace fields shared by `create` and `update`.
#[derive(Debug, Args)]
pub(crate) struct WorkspaceFields {
    #[arg(long)]
    description: Option<String>,
    /// How replies should sound (for example "concise, friendly")
    #[arg(long)]
    tone: Option<String>,
    /// IANA timezone name, such as Europe/Paris [default: UTC]
    #[arg(long)]
    timezone: Option<String>,
    #[arg(long)]
    system_prompt: Option<String>,
    /// Text the assistant should know in this workspace
    #[arg(long)]
    knowledge_base: Option<String>,
    /// Model for new chats in this workspace ("" for Hearth's default). Not `--default-model`:
    /// that global option names the default model's file, and one name for both made every
    /// workspace command fail while `HEARTH_DEFAULT_MODEL` was set.
    #[arg(long = "chat-model", id = "chat_model", value_name = "MODEL")]
    default_model: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ChatsCommand {
    /// Start a chat in a workspace
    New {
        /// Workspace handle or id
        #[arg(long)]
        workspace: String,
        #[arg(long, default_value = "")]
        title: String,
        /// Model for this chat [default: the workspace's]
        #[arg(long)]
        model: Option<String>,
    },
    /// List chats, pinned first, then most recent
    List {
        /// Only this workspace (handle or id) [default: all]
        #[arg(long)]
        workspace: Option<String>,
        /// Include archived chats
        #[arg(long)]
        all: bool,
    },
    /// Show a chat along the branch on screen
    Show { chat: String },
    /// Rename a chat
    Rename { chat: String, title: String },
    /// Pin a chat to the top of its list
    Pin { chat: String },
    /// Unpin a chat
    Unpin { chat: String },
    /// Archive a chat (hidden from lists unless --all)
    Archive { chat: String },
    /// Bring a chat back from the archive
    Unarchive { chat: String },
    /// Show the branch that goes through MESSAGE
    Branch { chat: String, message: String },
    /// Delete a chat
    Rm { chat: String },
}

#[derive(Debug, Subcommand)]
pub(crate) enum MessagesCommand {
    /// Add a message to a chat (continues the branch on screen unless --parent is given)
    Add {
        #[arg(long)]
        chat: String,
        /// system, user, assistant or tool
        #[arg(long, default_value = "user")]
        role: String,
        /// Reply to this message instead of the end of the branch on screen
        #[arg(long)]
        parent: Option<String>,
        /// A key that makes a retried add return the first message instead of adding another
        #[arg(long)]
        idempotency_key: Option<String>,
        /// The text; "-" reads it from stdin
        #[arg(required = true, num_args = 1..)]
        text: Vec<String>,
    },
    /// Edit a message: adds the new text as a new branch and shows it
    Edit {
        message: String,
        /// The new text; "-" reads it from stdin
        #[arg(required = true, num_args = 1..)]
        text: Vec<String>,
    },
    /// Delete a message and the replies under it
    Rm { message: String },
}

#[derive(Debug, Args)]
pub(crate) struct SearchArgs {
    /// Words to find (all must match; the last may be a prefix)
    #[arg(required = true, num_args = 1..)]
    query: Vec<String>,
    /// Only this workspace (handle or id)
    #[arg(long)]
    workspace: Option<String>,
    #[arg(long, default_value_t = 20)]
    limit: u32,
}

pub(crate) fn workspaces(cmd: WorkspacesCommand, core: &Core, out: &Output) -> CmdResult {
    match cmd {
        WorkspacesCommand::Create { name, handle, fields } => {
            let new = NewWorkspace::new(&name, Handle::parse(&handle)?)?.with_fields(fields.into_patch()?);
            let ws = core.create_workspace(&new)?;
            out.show(&ws, || format!("created workspace {} ({})", ws.handle, ws.id));
        }
        WorkspacesCommand::List => {
            let all = core.workspaces()?;
            out.show(&all, || {
                let rows = all.iter().map(|w| vec![w.handle.to_string(), w.name.clone(), w.timezone.to_string(), w.id.to_string()]);
                table(&["HANDLE", "NAME", "TIMEZONE", "ID"], &rows.collect::<Vec<_>>())
            });
        }
        WorkspacesCommand::Show { workspace } => {
            let ws = core.workspace(&workspace.parse()?)?;
            out.show(&ws, || describe_workspace(&ws));
        }
        WorkspacesCommand::Rename { workspace, name } => {
            let ws = core.rename_workspace(&workspace.parse()?, &name)?;
            out.show(&ws, || format!("renamed workspace {} to {:?}", ws.handle, ws.name));
        }
        WorkspacesCommand::Update { workspace, name, handle, fields } => {
            let patch = WorkspacePatch { name, handle: handle.as_deref().map(Handle::parse).transpose()?, ..fields.into_patch()? };
            let ws = core.update_workspace(&workspace.parse()?, &patch)?;
            out.show(&ws, || describe_workspace(&ws));
        }
        WorkspacesCommand::Rm { workspace } => {
            let target: WorkspaceRef = workspace.parse()?;
            let ws = core.workspace(&target)?;
            core.delete_workspace(&WorkspaceRef::Id(ws.id))?;
            out.show(&serde_json::json!({ "deleted": ws.id }), || format!("deleted workspace {} and its chats", ws.handle));
        }
    }
    Ok(())
}

impl WorkspaceFields {
    fn into_patch(self) -> Result<WorkspacePatch, hearth_types::ValidationError> {
        Ok(WorkspacePatch {
            description: self.description,
            tone: self.tone,
            timezone: self.timezone.as_deref().map(Timezone::parse).transpose()?,
            system_prompt: self.system_prompt,
            knowledge_base: self.knowledge_base,
            // An empty --default-model clears it.
            default_model: self.default_model.map(|m| Some(m).filter(|m| !m.is_empty())),
            ..Default::default()
        })
    }
}

fn describe_workspace(ws: &Workspace) -> String {
    let mut s = format!(
        "{} ({})\nid:            {}\ntimezone:      {}\ndefault model: {}\n",
        ws.name,
        ws.handle,
        ws.id,
        ws.timezone,
        ws.default_model.as_deref().unwrap_or("-"),
    );
    for (label, value) in [("description", &ws.description), ("tone", &ws.tone), ("system prompt", &ws.system_prompt)] {
        if !value.is_empty() {
            s.push_str(&format!("{:<15}{}\n", format!("{label}:"), preview(value, 70)));
        }
    }
    s
}

pub(crate) fn chats(cmd: ChatsCommand, core: &Core, out: &Output) -> CmdResult {
    let chat_id = |s: &str| ChatId::parse_field(s, "chat");
    match cmd {
        ChatsCommand::New { workspace, title, model } => {
            let chat = core.create_chat(&workspace.parse()?, &title, model)?;
            out.show(&chat, || format!("created chat {}", chat.id));
        }
        ChatsCommand::List { workspace, all } => {
            let workspaces = match workspace {
                Some(w) => vec![core.workspace(&w.parse()?)?],
                None => core.workspaces()?,
            };
            let mut listed = Vec::new();
            for ws in &workspaces {
                for chat in core.chats(&WorkspaceRef::Id(ws.id), all)? {
                    listed.push((ws.handle.clone(), chat));
                }
            }
            let chats: Vec<_> = listed.iter().map(|(_, c)| c).collect();
            out.show(&chats, || {
                let rows = listed.iter().map(|(h, c)| {
                    let flags = [(c.pinned, "pinned"), (c.archived, "archived")]
                        .iter()
                        .filter(|(on, _)| *on)
                        .map(|(_, f)| *f)
                        .collect::<Vec<_>>()
                        .join(",");
                    vec![c.id.to_string(), h.to_string(), flags, title_or_untitled(&c.title)]
                });
                table(&["ID", "WORKSPACE", "FLAGS", "TITLE"], &rows.collect::<Vec<_>>())
            });
        }
        ChatsCommand::Show { chat } => {
            let thread = core.thread(chat_id(&chat)?)?;
            out.show(&thread, || describe_thread(&thread));
        }
        ChatsCommand::Rename { chat, title } => {
            let c = core.rename_chat(chat_id(&chat)?, &title)?;
            out.show(&c, || format!("renamed chat {} to {:?}", c.id, c.title));
        }
        ChatsCommand::Pin { chat } => flag(core, out, &chat, ChatPatch { pinned: Some(true), ..Default::default() }, "pinned")?,
        ChatsCommand::Unpin { chat } => flag(core, out, &chat, ChatPatch { pinned: Some(false), ..Default::default() }, "unpinned")?,
        ChatsCommand::Archive { chat } => flag(core, out, &chat, ChatPatch { archived: Some(true), ..Default::default() }, "archived")?,
        ChatsCommand::Unarchive { chat } => {
            flag(core, out, &chat, ChatPatch { archived: Some(false), ..Default::default() }, "unarchived")?
        }
        ChatsCommand::Branch { chat, message } => {
            let thread = core.switch_branch(chat_id(&chat)?, MessageId::parse_field(&message, "message")?)?;
            out.show(&thread, || describe_thread(&thread));
        }
        ChatsCommand::Rm { chat } => {
            let id = chat_id(&chat)?;
            core.delete_chat(id)?;
            out.show(&serde_json::json!({ "deleted": id }), || format!("deleted chat {id}"));
        }
    }
    Ok(())
}

fn flag(core: &Core, out: &Output, chat: &str, patch: ChatPatch, done: &str) -> CmdResult {
    let c = core.update_chat(ChatId::parse_field(chat, "chat")?, &patch)?;
    out.show(&c, || format!("{done} chat {}", c.id));
    Ok(())
}

fn title_or_untitled(title: &str) -> String {
    if title.is_empty() { "(untitled)".to_owned() } else { title.to_owned() }
}

fn describe_thread(thread: &Thread) -> String {
    let mut s = format!("{} ({})\n", title_or_untitled(&thread.chat.title), thread.chat.id);
    if thread.messages.is_empty() {
        s.push_str("(no messages)\n");
    }
    for m in &thread.messages {
        let branch = if m.sibling_count > 1 { format!(" < {}/{} >", m.sibling_index + 1, m.sibling_count) } else { String::new() };
        s.push_str(&format!("\n[{}]{branch} {}\n{}\n", m.message.role, m.message.id, m.message.content));
    }
    s
}

pub(crate) fn messages(cmd: MessagesCommand, core: &Core, out: &Output) -> CmdResult {
    match cmd {
        MessagesCommand::Add { chat, role, parent, idempotency_key, text } => {
            let add = AddMessage {
                role: role.parse::<Role>()?,
                content: read_text(&text)?,
                parent_id: parent.as_deref().map(|p| MessageId::parse_field(p, "parent")).transpose()?,
                idempotency_key,
            };
            let added = core.add_message(ChatId::parse_field(&chat, "chat")?, &add)?;
            out.show(&added.message, || {
                let verb = if added.created { "added" } else { "already added (same idempotency key)" };
                format!("{verb} message {}", added.message.id)
            });
        }
        MessagesCommand::Edit { message, text } => {
            let edited = core.edit_message(MessageId::parse_field(&message, "message")?, &read_text(&text)?)?;
            out.show(&edited, || format!("added edit as message {} on a new branch", edited.id));
        }
        MessagesCommand::Rm { message } => {
            let id = MessageId::parse_field(&message, "message")?;
            core.delete_message(id)?;
            out.show(&serde_json::json!({ "deleted": id }), || format!("deleted message {id}"));
        }
    }
    Ok(())
}

/// The words joined by spaces, or stdin when the only word is "-".
fn read_text(words: &[String]) -> anyhow::Result<String> {
    if words.len() == 1 && words[0] == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("reading the message from stdin")?;
        Ok(s)
    } else {
        Ok(words.join(" "))
    }
}

pub(crate) fn search(args: SearchArgs, core: &Core, out: &Output) -> CmdResult {
    let scope = args.workspace.as_deref().map(str::parse::<WorkspaceRef>).transpose()?;
    let hits = core.search(&args.query.join(" "), scope.as_ref(), args.limit)?;
    out.show(&hits, || {
        if hits.is_empty() {
            return "no messages match".to_owned();
        }
        let mut s = String::new();
        for hit in &hits {
            // Highlights as **bold** markers: readable in a terminal and in Markdown.
            let mut text = hit.snippet.text.clone();
            for &(start, end) in hit.snippet.highlights.iter().rev() {
                text.insert_str(end, "**");
                text.insert_str(start, "**");
            }
            s.push_str(&format!("{}  [{}] {}\n  {}\n", hit.chat_id, hit.role, title_or_untitled(&hit.chat_title), text.replace('\n', " ")));
        }
        s
    });
    Ok(())
}
