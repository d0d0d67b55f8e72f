//! OpenAPI schemas for the domain types, behind the `openapi` feature (the HTTP server turns
//! it on; nothing else pays for it).
//!
//! Ids, handles, timezones and the text enums are strings on the wire; their schemas say so
//! with the constraints a client can check (UUID format, the handle pattern, the enum
//! spellings). The records derive theirs next to their definitions.

use std::borrow::Cow;

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::{
    CallOutcome, ChatId, DocFormat, DocumentId, Handle, JobId, JobKind, JobStatus, MessageId, MessageStatus, ModelId, ModelSource,
    NodeStatus, Role, RunId, RunStatus, Timezone, WorkflowId, WorkspaceId,
};

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

macro_rules! string_schema {
    ($name:ident, $build:expr) => {
        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $build.into()
            }
        }
        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

string_schema!(WorkspaceId, string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))));
string_schema!(ChatId, string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))));
string_schema!(MessageId, string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))));
string_schema!(WorkflowId, string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))));
string_schema!(RunId, string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))));
string_schema!(ModelId, string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))));
string_schema!(JobId, string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))));
string_schema!(DocumentId, string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))));
string_schema!(
    Handle,
    string()
        .pattern(Some("^[a-z0-9]+(-[a-z0-9]+)*$"))
        .max_length(Some(Handle::MAX_LEN))
        .description(Some("lowercase letters and digits in groups joined by single hyphens"))
);
string_schema!(Timezone, string().description(Some("an IANA timezone name, such as Europe/Paris or UTC")));
/// A `text_enum!`'s schema: a string, one of its spellings.
macro_rules! text_enum_schema {
    ($($name:ident),+) => {
        $( string_schema!($name, string().enum_values(Some($name::ALL.iter().map(|v| v.as_str())))); )+
    };
}

text_enum_schema!(Role, MessageStatus, ModelSource, RunStatus, NodeStatus, CallOutcome, JobStatus, JobKind, DocFormat);
