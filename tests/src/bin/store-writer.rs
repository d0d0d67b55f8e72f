//! A helper process for the crash test: opens the store at `argv[1]`, creates a workspace and
//! a chat, then appends messages one action at a time forever, printing `wrote N` after each
//! commit. The test kills it with SIGKILL and checks what survived.

use std::io::Write;

use hearth_store::Store;
use hearth_types::{Handle, NewChat, NewMessage, NewWorkspace, Role};

fn main() -> anyhow::Result<()> {
    let path = std::env::args().nth(1).ok_or_else(|| anyhow::anyhow!("usage: store-writer DB_PATH"))?;
    let store = Store::open(&path)?;
    let new = NewWorkspace::new("Crash test", Handle::parse("crash")?)?;
    let ws = store.write(|w| w.create_workspace(&new))?;
    let chat = store.write(|w| w.create_chat(&NewChat { workspace_id: ws.id, title: "crash".into(), model: None }))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "chat {}", chat.id)?;
    let mut parent = None;
    for n in 0u64.. {
        // Long enough that a commit spans several pages, so a kill can land mid-write.
        let text = format!("message {n} {}", "lorem ipsum dolor sit amet ".repeat(200));
        let m = store.write(|w| w.append_message(&NewMessage::new(chat.id, parent, Role::User, text)))?;
        parent = Some(m.message.id);
        writeln!(out, "wrote {}", n + 1)?;
        out.flush()?;
    }
    Ok(())
}
