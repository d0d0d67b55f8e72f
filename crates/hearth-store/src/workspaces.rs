//! Workspaces: create, change, delete (with their chats) and read.

use hearth_types::{Handle, NewWorkspace, Timezone, Workspace, WorkspaceId, WorkspacePatch};
use rusqlite::{OptionalExtension, Row};

use crate::rows::{Val, get_id, get_json, get_opt, get_parsed, get_time};
use crate::writer::Table;
use crate::{Error, Reader, Result, Writer};

const COLUMNS: &str = "id, name, handle, description, tone, timezone, system_prompt, knowledge_base, \
                       default_model, settings, created_at, updated_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Workspace> {
    Ok(Workspace {
        id: get_id(row, "id")?,
        name: row.get("name")?,
        handle: get_parsed(row, "handle")?,
        description: row.get("description")?,
        tone: row.get("tone")?,
        timezone: Timezone::from_stored(row.get("timezone")?),
        system_prompt: row.get("system_prompt")?,
        knowledge_base: row.get("knowledge_base")?,
        default_model: get_opt(row, "default_model")?,
        settings: get_json(row, "settings")?,
        created_at: get_time(row, "created_at")?,
        updated_at: get_time(row, "updated_at")?,
    })
}

impl Writer<'_> {
    pub fn create_workspace(&mut self, new: &NewWorkspace) -> Result<Workspace> {
        self.ensure_handle_free(&new.handle, None)?;
        let id = WorkspaceId::new();
        self.insert(
            Table::Workspaces,
            &id.to_string(),
            &[
                ("name", Val::Text(new.name.clone())),
                ("handle", Val::Text(new.handle.to_string())),
                ("description", Val::Text(new.description.clone())),
                ("tone", Val::Text(new.tone.clone())),
                ("timezone", Val::Text(new.timezone.to_string())),
                ("system_prompt", Val::Text(new.system_prompt.clone())),
                ("knowledge_base", Val::Text(new.knowledge_base.clone())),
                ("default_model", Val::OptText(new.default_model.clone())),
                ("settings", Val::Json(new.settings.clone().into())),
            ],
            &[],
        )?;
        tracing::debug!(workspace = %id, "created workspace");
        self.read().workspace(id)
    }

    pub fn update_workspace(&mut self, id: WorkspaceId, patch: &WorkspacePatch) -> Result<Workspace> {
        self.read().workspace(id)?;
        if let Some(handle) = &patch.handle {
            self.ensure_handle_free(handle, Some(id))?;
        }
        let text = |name: &'static str, v: &Option<String>| v.clone().map(|v| (name, Val::Text(v)));
        let fields: Vec<(&str, Val)> = [
            text("name", &patch.name),
            patch.handle.as_ref().map(|h| ("handle", Val::Text(h.to_string()))),
            text("description", &patch.description),
            text("tone", &patch.tone),
            patch.timezone.as_ref().map(|t| ("timezone", Val::Text(t.to_string()))),
            text("system_prompt", &patch.system_prompt),
            text("knowledge_base", &patch.knowledge_base),
            patch.default_model.clone().map(|m| ("default_model", Val::OptText(m))),
            patch.settings.clone().map(|s| ("settings", Val::Json(s.into()))),
        ]
        .into_iter()
        .flatten()
        .collect();
        self.update(Table::Workspaces, &id.to_string(), &fields)?;
        self.read().workspace(id)
    }

    /// Deletes a workspace and its chats (tombstones; their messages become unreachable).
    pub fn delete_workspace(&mut self, id: WorkspaceId) -> Result<()> {
        self.read().workspace(id)?;
        let chats: Vec<String> = self
            .conn()
            .prepare_cached("SELECT id FROM chats WHERE workspace_id = ?1 AND deleted_at IS NULL")?
            .query_map([id.to_string()], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for chat in chats {
            self.tombstone(Table::Chats, &chat)?;
        }
        self.delete_documents_of(id)?;
        self.tombstone(Table::Workspaces, &id.to_string())
    }

    fn ensure_handle_free(&self, handle: &Handle, except: Option<WorkspaceId>) -> Result<()> {
        match self.read().workspace_by_handle(handle) {
            Ok(w) if Some(w.id) != except => {
                Err(Error::Conflict { field: "handle", message: format!("\"{handle}\" is already used by workspace {:?}", w.name) })
            }
            Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl Reader<'_> {
    pub fn workspace(&self, id: WorkspaceId) -> Result<Workspace> {
        self.conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM workspaces WHERE id = ?1 AND deleted_at IS NULL"))?
            .query_row([id.to_string()], from_row)
            .optional()?
            .ok_or_else(|| Error::not_found("workspace_id", "workspace", id))
    }

    pub fn workspace_by_handle(&self, handle: &Handle) -> Result<Workspace> {
        self.conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM workspaces WHERE handle = ?1 AND deleted_at IS NULL"))?
            .query_row([handle.as_str()], from_row)
            .optional()?
            .ok_or_else(|| Error::NotFound { field: "handle", entity: "workspace", id: handle.to_string() })
    }

    /// Live workspaces, by name.
    pub fn workspaces(&self) -> Result<Vec<Workspace>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM workspaces WHERE deleted_at IS NULL ORDER BY name COLLATE NOCASE, id"))?;
        Ok(stmt.query_map([], from_row)?.collect::<rusqlite::Result<_>>()?)
    }
}
