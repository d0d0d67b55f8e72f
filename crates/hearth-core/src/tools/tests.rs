//! The tool loop over an in-memory store, a scripted model and a host that records calls.

use std::sync::{Arc, Mutex};

use hearth_llm::testing::ScriptedModel;
use hearth_llm::{CancellationToken, SamplingParams, ToolChoice};
use hearth_types::{ChatId, Handle, MessageStatus, NewWorkspace, Role, ToolCall, WorkspaceId, WorkspacePatch};
use serde_json::{Value, json};

use super::*;
use crate::{ReplyRequest, ReplyStep, WorkspaceRef};

/// Two tools: `lookup` (reads; needs a `city` string) and `launch` (changes things: asks).
/// `lookup` of "nowhere" fails, as a broken tool would.
#[derive(Default)]
struct Host {
    ran: Mutex<Vec<(String, Value)>>,
}

impl ToolHost for Host {
    fn tools(&self, _: WorkspaceId) -> Vec<ToolSpec> {
        let schema = json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]});
        vec![
            ToolSpec {
                name: "lookup".into(),
                description: "Looks up a city.".into(),
                parameters: schema,
                asks: false,
                source: "hearth".into(),
            },
            ToolSpec {
                name: "launch".into(),
                description: "Launches.".into(),
                parameters: json!({"type": "object"}),
                asks: true,
                source: "x".into(),
            },
        ]
    }

    fn call(&self, _: WorkspaceId, name: &str, arguments: Value, _: &CancellationToken) -> ToolOutput {
        self.ran.lock().unwrap().push((name.to_owned(), arguments.clone()));
        match arguments["city"].as_str() {
            Some("nowhere") => ToolOutput::error("the lookup service is down"),
            Some(city) => ToolOutput::ok(format!("{city}: 12 C")),
            None => ToolOutput::ok("launched"),
        }
    }
}

/// A host with nothing to offer.
struct NoTools;

impl ToolHost for NoTools {
    fn tools(&self, _: WorkspaceId) -> Vec<ToolSpec> {
        Vec::new()
    }
    fn call(&self, _: WorkspaceId, _: &str, _: Value, _: &CancellationToken) -> ToolOutput {
        unreachable!("nothing is offered")
    }
}

/// Answers with a fixed decision and counts how often it was asked.
struct Deciding(Approval, Mutex<u32>);

impl Approver for Deciding {
    fn approve(&self, request: &ApprovalRequest<'_>, _: &CancellationToken) -> Approval {
        assert_eq!(request.tool.name, "launch");
        *self.1.lock().unwrap() += 1;
        self.0
    }
}

fn call(name: &str, arguments: &str) -> ToolCall {
    ToolCall { id: format!("call_{name}"), name: name.into(), arguments: arguments.into() }
}

/// A Core with the host attached and a chat in a workspace whose tools are `on`.
fn setup(on: bool) -> (Core, Arc<Host>, ChatId) {
    let core = Core::in_memory().unwrap();
    let new = NewWorkspace::new("Notes", Handle::parse("notes").unwrap()).unwrap();
    core.create_workspace(&new).unwrap();
    let notes: WorkspaceRef = "notes".parse().unwrap();
    let mut settings = serde_json::Map::new();
    settings.insert(TOOLS_SETTING.into(), Value::Bool(on));
    core.update_workspace(&notes, &WorkspacePatch { settings: Some(settings), ..Default::default() }).unwrap();
    let host = Arc::new(Host::default());
    core.attach_tools(host.clone());
    let chat = core.create_chat(&notes, "t", None).unwrap().id;
    (core, host, chat)
}

/// Runs a reply, returning it and the steps it reported, as words.
fn run(core: &Core, request: &ReplyRequest, model: &ScriptedModel, approver: &dyn Approver) -> (crate::Result<crate::Reply>, Vec<String>) {
    let started = core.start_reply(request).unwrap();
    let mut steps = Vec::new();
    let reply = core.run_reply_with(started, model, &CancellationToken::new(), approver, |step| {
        steps.push(match step {
            ReplyStep::Text(t) => format!("text {t}"),
            ReplyStep::ToolCall { call, message, asks } => format!("call {} {} asks={asks}", call.name, message.status),
            ReplyStep::ToolResult { message } => format!("result {}", message.content),
            ReplyStep::Continued { message } => format!("continued {}", message.status),
        })
    });
    (reply, steps)
}

fn ask(chat: ChatId) -> ReplyRequest {
    ReplyRequest::new(chat, "weather?", "m", SamplingParams::greedy(8))
}

#[test]
fn a_reply_calls_a_tool_stores_each_step_and_answers_with_the_result() {
    let (core, host, chat) = setup(true);
    let model = ScriptedModel::new(["It is ", "12 C."]).calling(vec![call("lookup", r#"{"city": "Oslo"}"#)]);
    let (reply, steps) = run(&core, &ask(chat), &model, &NoApprover);
    let reply = reply.unwrap();
    assert_eq!(steps, ["call lookup streaming asks=false", "result Oslo: 12 C", "continued streaming", "text It is ", "text 12 C."]);
    assert_eq!(*host.ran.lock().unwrap(), [("lookup".to_owned(), json!({"city": "Oslo"}))]);

    // The branch: question, the call, its result, the answer.
    let thread = core.thread(chat).unwrap();
    let m: Vec<_> = thread.messages.iter().map(|b| &b.message).collect();
    assert_eq!(m.iter().map(|m| m.role).collect::<Vec<_>>(), [Role::User, Role::Assistant, Role::Tool, Role::Assistant]);
    assert_eq!(m[1].tool_calls, [call("lookup", r#"{"city": "Oslo"}"#)]);
    assert_eq!(m[1].status, MessageStatus::Complete);
    assert_eq!((m[2].tool_call_id.as_deref(), m[2].content.as_str(), m[2].error.as_deref()), (Some("call_lookup"), "Oslo: 12 C", None));
    assert_eq!(m[2].status, MessageStatus::Complete);
    assert_eq!((m[3].content.as_str(), m[3].status), ("It is 12 C.", MessageStatus::Complete));
    assert_eq!(reply.answer.id, m[3].id, "the reply's answer is its last message");

    // The model was offered the tools, and read the call and its result the second time.
    let seen = model.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].tools.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["lookup", "launch"]);
    let last_two: Vec<_> = seen[1].messages.iter().rev().take(2).collect();
    assert_eq!(last_two[0].tool_call_id.as_deref(), Some("call_lookup"));
    assert_eq!(last_two[0].content, "Oslo: 12 C");
    assert_eq!(last_two[1].tool_calls, [call("lookup", r#"{"city": "Oslo"}"#)]);

    // A later reply in the chat reads the earlier calls and results as turns.
    let again = ScriptedModel::new(["ok"]);
    core.reply(&ReplyRequest::new(chat, "thanks", "m", SamplingParams::greedy(8)), &again, &CancellationToken::new(), |_| {}).unwrap();
    let roles: Vec<Role> = again.seen()[0].messages.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::User, Role::Assistant, Role::Tool, Role::Assistant, Role::User]);

    // Regenerating the answer answers the question again, not the tool's result.
    let started = core.start_answer(m[3].id, "m", SamplingParams::greedy(8)).unwrap();
    assert_eq!(started.question.id, m[0].id);
}

#[test]
fn without_the_workspace_setting_no_tool_is_offered_unless_the_send_asks() {
    let (core, host, chat) = setup(false);
    let model = ScriptedModel::new(["plain"]);
    run(&core, &ask(chat), &model, &NoApprover).0.unwrap();
    assert!(model.seen()[0].tools.is_empty());

    let forced = ReplyRequest { tool_choice: Some(ToolChoice::Function("lookup".into())), ..ask(chat) };
    let model = ScriptedModel::new(["done"]).calling(vec![call("lookup", r#"{"city": "Rome"}"#)]);
    run(&core, &forced, &model, &NoApprover).0.unwrap();
    let seen = model.seen();
    assert_eq!(seen[0].tool_choice, ToolChoice::Function("lookup".into()));
    assert_eq!(seen[1].tool_choice, ToolChoice::Auto, "a named call binds the first round only");
    assert_eq!(host.ran.lock().unwrap().len(), 1);

    // A call that cannot be made is refused before anything is stored.
    let before = core.thread(chat).unwrap().messages.len();
    let unknown = ReplyRequest { tool_choice: Some(ToolChoice::Function("nope".into())), ..ask(chat) };
    let e = core.start_reply(&unknown).unwrap_err();
    assert!(e.to_string().contains("no tool named \"nope\""), "{e}");
    let required = ReplyRequest { tool_choice: Some(ToolChoice::Required), ..ask(chat) };
    core.attach_tools(Arc::new(NoTools));
    let e = core.start_reply(&required).unwrap_err();
    assert!(e.to_string().contains("no tools to call"), "{e}");
    assert_eq!(core.thread(chat).unwrap().messages.len(), before);
}

#[test]
fn broken_arguments_unknown_tools_and_failures_are_results_the_model_reads() {
    let (core, host, chat) = setup(true);
    let calls = vec![
        call("lookup", r#"{"town": "Oslo"}"#),
        ToolCall { id: "call_b".into(), ..call("lookup", "{not json") },
        call("teleport", "{}"),
        ToolCall { id: "call_d".into(), ..call("lookup", r#"{"city": "nowhere"}"#) },
    ];
    let model = ScriptedModel::new(["sorry"]).calling(calls);
    let reply = run(&core, &ask(chat), &model, &NoApprover).0.unwrap();
    assert_eq!(reply.answer.content, "sorry");
    assert_eq!(reply.answer.status, MessageStatus::Complete);
    let thread = core.thread(chat).unwrap();
    let results: Vec<_> = thread.messages.iter().map(|b| &b.message).filter(|m| m.role == Role::Tool).collect();
    assert_eq!(results.len(), 4);
    assert!(results[0].content.contains("do not match the tool's schema") && results[0].content.contains("city"), "{}", results[0].content);
    assert!(results[1].content.contains("not valid JSON"), "{}", results[1].content);
    assert!(results[2].content.contains("no tool named \"teleport\"") && results[2].content.contains("lookup"), "{}", results[2].content);
    assert_eq!(results[3].content, "the lookup service is down");
    assert!(results.iter().all(|m| m.error.is_some() && m.status == MessageStatus::Complete));
    // Only the call with good arguments ran.
    assert_eq!(*host.ran.lock().unwrap(), [("lookup".to_owned(), json!({"city": "nowhere"}))]);
}

#[test]
fn a_tool_that_changes_things_asks_first_and_always_is_remembered() {
    let (core, host, chat) = setup(true);
    let model = || ScriptedModel::new(["ok"]).calling(vec![call("launch", "{}")]);

    let deny = Deciding(Approval::Deny, Mutex::new(0));
    let (reply, steps) = run(&core, &ask(chat), &model(), &deny);
    reply.unwrap();
    assert_eq!(steps[0], "call launch pending asks=true");
    assert_eq!(steps[1], "result the user did not allow this call");
    assert!(host.ran.lock().unwrap().is_empty(), "a denied call does not run");

    // A call that cannot run (here: arguments that are not JSON) is refused without asking.
    let broken = ScriptedModel::new(["ok"]).calling(vec![call("launch", "{oops")]);
    let (_, steps) = run(&core, &ask(chat), &broken, &deny);
    assert!(steps[0] == "call launch streaming asks=false" && steps[1].contains("not valid JSON"), "{steps:?}");
    assert_eq!(*deny.1.lock().unwrap(), 1, "asked for the first call only");

    let always = Deciding(Approval::Always, Mutex::new(0));
    run(&core, &ask(chat), &model(), &always).0.unwrap();
    assert_eq!(host.ran.lock().unwrap().len(), 1);
    assert_eq!(core.allowed_tools().unwrap(), ["launch"]);

    // From now on it runs without asking.
    let (_, steps) = run(&core, &ask(chat), &model(), &deny);
    assert_eq!(steps[0], "call launch streaming asks=false");
    assert_eq!(*deny.1.lock().unwrap(), 1, "asked once, in the first reply only");
    assert_eq!(host.ran.lock().unwrap().len(), 2);
}

#[test]
fn a_model_that_loops_is_stopped_by_the_round_limit_and_repeats_do_not_run() {
    let (core, host, chat) = setup(true);
    let model = ScriptedModel::new(["enough"]).calling(vec![call("lookup", r#"{"city": "Oslo"}"#)]).always_calling();
    let reply = run(&core, &ask(chat), &model, &NoApprover).0.unwrap();
    let seen = model.seen();
    assert_eq!(seen.len() as u32, MAX_ROUNDS + 1, "every round, then one that may not call");
    assert_eq!(seen.last().unwrap().tool_choice, ToolChoice::None);
    assert_eq!(host.ran.lock().unwrap().len(), 1, "the same call is run once per reply");
    let thread = core.thread(chat).unwrap();
    let repeats = thread.messages.iter().filter(|b| b.message.content.contains("already made in this reply")).count();
    assert_eq!(repeats as u32, MAX_ROUNDS - 1);
    assert_eq!(reply.answer.status, MessageStatus::Complete);
}

#[test]
fn arguments_are_checked_against_the_schema() {
    let tool = &Host::default().tools(WorkspaceId::new())[0];
    assert_eq!(check_arguments(tool, r#"{"city": "Oslo"}"#).unwrap(), json!({"city": "Oslo"}));
    assert!(check_arguments(tool, r#"{"city": 3}"#).unwrap_err().contains("/city"));
    assert!(check_arguments(tool, "[1]").unwrap_err().contains("must be a JSON object"));
    let none = ToolSpec { parameters: json!({"type": "object"}), ..tool.clone() };
    assert_eq!(check_arguments(&none, "").unwrap(), json!({}), "no arguments is an empty object");
    let remote = ToolSpec { parameters: json!({"$ref": "https://example.com/schema.json"}), ..tool.clone() };
    assert!(check_arguments(&remote, "{}").is_err(), "a schema is never fetched");
}

#[test]
fn long_results_are_cut_on_a_character_boundary_saying_so() {
    let long = "é".repeat(RESULT_BYTES);
    let cut = within_budget(long.clone());
    assert!(cut.len() < long.len());
    assert!(cut.ends_with(&format!("[cut: {} more bytes]", long.len() - RESULT_BYTES)));
    assert_eq!(within_budget("short".into()), "short");
}

#[test]
fn the_allowed_list_and_the_switch_are_checked() {
    let core = Core::in_memory().unwrap();
    assert!(core.set_setting(ALLOWED_TOOLS_SETTING, &json!("lookup")).is_err());
    core.set_setting(ALLOWED_TOOLS_SETTING, &json!(["lookup"])).unwrap();
    assert_eq!(core.allowed_tools().unwrap(), ["lookup"]);
    let mut settings = serde_json::Map::new();
    settings.insert(TOOLS_SETTING.into(), json!("yes"));
    let new = NewWorkspace { settings, ..NewWorkspace::new("W", Handle::parse("w").unwrap()).unwrap() };
    assert!(core.create_workspace(&new).is_err());
}
