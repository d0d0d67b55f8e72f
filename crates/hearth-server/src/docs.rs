//! The API's description: `/openapi.json`, generated from the handlers' annotations
//! (utoipa), and `/docs`, a page rendered from that same document on the server, so it needs
//! no script from a CDN (or any script at all).

use std::fmt::Write as _;
use std::sync::OnceLock;

use axum::Json;
use axum::response::Html;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{error, openai};

#[derive(OpenApi)]
#[openapi(
    info(title = "Hearth API", description = "Hearth's local HTTP API: OpenAI-compatible `/v1` and the app's own `/api/v1`. \
        Every route but `/health` and the UI's pages (`/`, `/assets/*`) needs `Authorization: Bearer <token>` (`hearth token show`)."),
    // The paths come from the router (`documented_routes` in lib.rs); this one is routed by
    // hand there, its model name taking slashes.
    paths(openai::models::get_model),
    components(schemas(error::ErrorBody)),
    security(("bearer" = [])),
)]
pub(crate) struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
        // The answers every route can give, written once here rather than on each handler:
        // 401 without the token, 400 for a path or query that does not parse, 413 for a body
        // over the limit.
        let error = |description: &str| {
            utoipa::openapi::ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    utoipa::openapi::ContentBuilder::new().schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody"))).build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let ops = [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
            for op in ops.into_iter().flatten() {
                let responses = &mut op.responses.responses;
                if path != "/health" {
                    responses.entry("401".into()).or_insert_with(|| error("missing or wrong token").into());
                }
                responses.entry("400".into()).or_insert_with(|| error("a parameter or the body does not parse").into());
                if op.request_body.is_some() {
                    responses.entry("413".into()).or_insert_with(|| error("the body is over the limit").into());
                }
            }
        }
    }
}

fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = crate::openapi_document();
        // After the paths are in: it adds the answers every route can give to each of them.
        BearerAuth.modify(&mut doc);
        doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
        doc
    })
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "server", responses((status = 200, body = Object)))]
pub(crate) async fn openapi_json() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(document())
}

/// The API reference as a page.
#[utoipa::path(get, path = "/docs", tag = "server", responses((status = 200, content((String = "text/html")))))]
pub(crate) async fn page() -> Html<&'static str> {
    static PAGE: OnceLock<String> = OnceLock::new();
    Html(PAGE.get_or_init(|| render(document())))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A plain page: every operation with its summary, parameters and statuses, and a link to
/// the full document for the schemas.
fn render(doc: &utoipa::openapi::OpenApi) -> String {
    let mut out = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Hearth API</title>\
         <style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}\
         code{background:#f3f3f3;padding:0 .25rem}section{border-top:1px solid #ddd;padding:.5rem 0}\
         .m{font-weight:700;display:inline-block;min-width:4.5rem}</style></head><body>",
    );
    let _ = write!(out, "<h1>{} {}</h1>", escape(&doc.info.title), escape(&doc.info.version));
    if let Some(d) = &doc.info.description {
        let _ = write!(out, "<p>{}</p>", escape(d));
    }
    out.push_str("<p>The machine-readable document with every schema: <a href=\"/openapi.json\"><code>/openapi.json</code></a>.</p>");
    for (path, item) in &doc.paths.paths {
        let ops = [("GET", &item.get), ("POST", &item.post), ("PUT", &item.put), ("PATCH", &item.patch), ("DELETE", &item.delete)];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            let _ = write!(out, "<section><p><span class=\"m\">{method}</span> <code>{}</code></p>", escape(path));
            if let Some(s) = op.summary.as_deref().or(op.description.as_deref()) {
                let _ = write!(out, "<p>{}</p>", escape(s));
            }
            if let Some(params) = &op.parameters {
                out.push_str("<ul>");
                for p in params {
                    let utoipa::openapi::RefOr::T(p) = p else { continue };
                    let _ = write!(out, "<li><code>{}</code> {}</li>", escape(&p.name), escape(p.description.as_deref().unwrap_or("")));
                }
                out.push_str("</ul>");
            }
            let statuses: Vec<&str> = op.responses.responses.keys().map(String::as_str).collect();
            let _ = write!(out, "<p>Responses: {}</p></section>", escape(&statuses.join(", ")));
        }
    }
    out.push_str("</body></html>");
    out
}
