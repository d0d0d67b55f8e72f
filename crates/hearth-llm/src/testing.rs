//! Fakes for tests, shared by every crate's tests (the `test-support` feature; a dev-dependency
//! turns it on): one scripted model in place of a copy per test suite, and one reader of a raw
//! HTTP request for tests that play a server over a socket.
//!
//! A fake is for unit tests only: the real model and real servers are the end-to-end suite's.

use std::io::{BufRead, BufReader, Read};
use std::sync::Mutex;
use std::sync::mpsc;

use crate::{
    CancellationToken, ChatEvent, ChatModel, ChatRequest, ChatStream, EmbedInput, Embeddings, FinishReason, LlmError, ModelHost, Timings,
    ToolCall, Usage,
};

/// A model that plays back fixed pieces of text, then finishes (or fails), and records what it
/// was asked. Built with `new` and adjusted with the `with_`/`holding`/... methods.
#[derive(Debug)]
pub struct ScriptedModel {
    pieces: Vec<String>,
    end: Result<FinishReason, LlmError>,
    usage: Usage,
    /// Answers only this model name; any other is `ModelNotFound`.
    only: Option<String>,
    /// Appends ` <the last message>` to the reply, so a test sees what reached the model.
    echo: bool,
    /// Holds the reply open after the pieces until it is cancelled.
    hold: bool,
    /// One vector per embedded input; `None` refuses embeddings.
    embedding: Option<Vec<f32>>,
    /// Tool calls it makes (instead of its pieces) while the last turn is not a tool result.
    calls: Vec<ToolCall>,
    /// Makes its calls every time, results or not: a model that loops.
    always_call: bool,
    seen: Mutex<Vec<ChatRequest>>,
}

impl ScriptedModel {
    /// Streams `pieces`, then finishes with `Stop`.
    pub fn new<S: Into<String>>(pieces: impl IntoIterator<Item = S>) -> Self {
        let pieces: Vec<String> = pieces.into_iter().map(Into::into).collect();
        let usage = Usage { prompt_tokens: 5, completion_tokens: pieces.len() as u32, cached_prompt_tokens: 0 };
        Self {
            pieces,
            end: Ok(FinishReason::Stop),
            usage,
            only: None,
            echo: false,
            hold: false,
            embedding: Some(vec![0.6, 0.8]),
            calls: Vec::new(),
            always_call: false,
            seen: Mutex::default(),
        }
    }

    /// Calls these tools (finishing `ToolCalls`) when the last turn is not a tool's result,
    /// and plays its pieces once it has results.
    pub fn calling(mut self, calls: Vec<ToolCall>) -> Self {
        self.calls = calls;
        self
    }

    /// Makes its calls on every request, results or not.
    pub fn always_calling(mut self) -> Self {
        self.always_call = true;
        self
    }

    /// Streams one piece, then holds the reply open until it is cancelled (it then finishes
    /// `Cancelled`): a model that is always busy.
    pub fn endless() -> Self {
        Self::new(["..."]).holding()
    }

    /// Holds the reply open after its pieces until it is cancelled.
    pub fn holding(mut self) -> Self {
        self.hold = true;
        self
    }

    /// Ends with `reason` instead of `Stop`.
    pub fn finishing(mut self, reason: FinishReason) -> Self {
        self.end = Ok(reason);
        self
    }

    /// Fails with `error` after its pieces.
    pub fn failing(mut self, error: LlmError) -> Self {
        self.end = Err(error);
        self
    }

    /// Reports `usage` when it finishes.
    pub fn with_usage(mut self, usage: Usage) -> Self {
        self.usage = usage;
        self
    }

    /// Answers only `model`.
    pub fn only_model(mut self, model: &str) -> Self {
        self.only = Some(model.to_owned());
        self
    }

    /// Ends its reply with ` <the last message's text>`.
    pub fn echoing(mut self) -> Self {
        self.echo = true;
        self
    }

    /// Refuses embeddings (`Unsupported`).
    pub fn without_embeddings(mut self) -> Self {
        self.embedding = None;
        self
    }

    /// Every request it was asked, oldest first.
    pub fn seen(&self) -> Vec<ChatRequest> {
        self.seen.lock().expect("seen lock").clone()
    }
}

impl ChatModel for ScriptedModel {
    fn chat(&self, request: ChatRequest, cancel: CancellationToken) -> Result<ChatStream, LlmError> {
        if let Some(only) = &self.only
            && request.model != *only
        {
            return Err(LlmError::ModelNotFound(request.model));
        }
        request.params.validate()?;
        let mut pieces = self.pieces.clone();
        if self.echo {
            let last = request.messages.last().map(|m| m.content.clone()).unwrap_or_default();
            pieces.push(format!(" <{last}>"));
        }
        let answered = request.messages.last().is_some_and(|m| m.role == hearth_types::Role::Tool);
        let calls = match !self.calls.is_empty() && (self.always_call || !answered) {
            true => self.calls.clone(),
            false => Vec::new(),
        };
        self.seen.lock().expect("seen lock").push(request);
        let (tx, rx) = mpsc::channel();
        if !calls.is_empty() {
            for (index, call) in calls.into_iter().enumerate() {
                let piece =
                    ChatEvent::ToolCall { index: index as u32, id: Some(call.id), name: Some(call.name), arguments: call.arguments };
                let _ = tx.send(Ok(piece));
            }
            let usage = self.usage;
            let _ = tx.send(Ok(ChatEvent::Finished { reason: FinishReason::ToolCalls, usage, timings: Timings::default() }));
            return Ok(ChatStream::new(rx, cancel));
        }
        let (end, usage, hold, flag) = (self.end.clone(), self.usage, self.hold, cancel.clone());
        let play = move || {
            for piece in pieces {
                if flag.is_cancelled() {
                    break;
                }
                let _ = tx.send(Ok(ChatEvent::Delta(piece)));
            }
            if hold {
                // Waits on the token itself: no polling, no sleep.
                let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a current-thread runtime");
                runtime.block_on(flag.cancelled());
            }
            let end = if flag.is_cancelled() { Ok(FinishReason::Cancelled) } else { end };
            let _ = tx.send(end.map(|reason| ChatEvent::Finished { reason, usage, timings: Timings::default() }));
        };
        if hold {
            std::thread::spawn(play);
        } else {
            play();
        }
        Ok(ChatStream::new(rx, cancel))
    }

    fn embed(&self, _: &str, inputs: &[EmbedInput]) -> Result<Embeddings, LlmError> {
        match &self.embedding {
            Some(v) => Ok(Embeddings { vectors: inputs.iter().map(|_| v.clone()).collect(), prompt_tokens: inputs.len() as u32 * 2 }),
            None => Err(LlmError::Unsupported("no embeddings".into())),
        }
    }
}

impl ModelHost for ScriptedModel {
    fn load(&self, _: &str) -> Result<(), LlmError> {
        Ok(())
    }
    fn unload(&self) {}
    fn loaded(&self) -> Option<String> {
        None
    }
}

/// An HTTP/1.1 request as read off a socket by [`read_request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRequest {
    /// `GET /v1/models HTTP/1.1`.
    pub request_line: String,
    /// Names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawRequest {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Reads one request (head, then a `Content-Length` body) from `stream`, for a test playing a
/// server on a socket. Panics on a malformed request: the client under test wrote it.
pub fn read_request(stream: impl Read) -> RawRequest {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).expect("a request line");
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("a header line");
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').expect("a header is `name: value`");
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let length: usize = headers.iter().find(|(n, _)| n == "content-length").map_or(0, |(_, v)| v.parse().expect("a length"));
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("the whole body");
    RawRequest { request_line: request_line.trim_end().to_owned(), headers, body }
}
