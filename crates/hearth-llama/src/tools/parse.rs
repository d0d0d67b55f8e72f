//! Reading a reply's tool calls as it streams: text outside `<tool_call>…</tool_call>` is the
//! reply's text, each block inside is one call, `{"name": …, "arguments": {…}}`.
//!
//! Everything this sends is final (append-only): a call's header (id and name) goes out once
//! its name is read, then the bytes of its arguments as they arrive, exactly as the model
//! wrote them, so a client that joins the pieces gets the model's JSON. Text that may be the
//! start of `<tool_call>` is held until it is known not to be, and so is whitespace, which
//! goes out only when more text follows (the blank line before a call is not the reply's
//! text). A block that is not a call of this shape, caught before its header went out, is
//! given back as text, so nothing the model wrote is lost.

use hearth_llm::{ChatEvent, call_id};

pub(crate) const OPEN: &str = "<tool_call>";
pub(crate) const CLOSE: &str = "</tool_call>";

#[derive(Debug)]
pub(crate) struct CallParser {
    /// Text not yet decided.
    buf: String,
    state: State,
    /// Calls begun so far.
    calls: u32,
    /// The whitespace before the block being read: dropped if it is a call, given back with
    /// it if not.
    gap: String,
}

#[derive(Debug)]
enum State {
    Text,
    Call(Call),
}

/// A call being read. `buf` holds the block's text from just after `<tool_call>`; `pos` is
/// how far it has been read.
#[derive(Debug, Default)]
struct Call {
    pos: usize,
    step: Step,
    name: Option<String>,
    /// Where the arguments value starts in the block, once found.
    args_start: Option<usize>,
    /// How much of the arguments has been sent.
    args_sent: usize,
    /// The arguments value's end, once read.
    args_end: Option<usize>,
    /// Whether the header went out (the call can no longer be given back as text).
    announced: bool,
    /// Scanning a value: begun, nesting depth, inside a string, after a backslash.
    scanning: bool,
    depth: u32,
    in_string: bool,
    escaped: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Step {
    #[default]
    Open,
    Key,
    /// After a key's `:`, at the value of `name`, `arguments` or another key.
    Value(Field),
    AfterValue,
    /// The object has closed; `</tool_call>` should follow.
    End,
    /// `</tool_call>` was read: the call is over.
    Done,
    /// Not a call of the expected shape: the block is read to its end as it is.
    Broken,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Name,
    Arguments,
    Other,
}

impl CallParser {
    pub(crate) fn new() -> Self {
        Self { buf: String::new(), state: State::Text, calls: 0, gap: String::new() }
    }

    /// Whether any call was made.
    pub(crate) fn made_calls(&self) -> bool {
        self.calls > 0
    }

    /// Reads more of the reply; returns the events it decides.
    pub(crate) fn push(&mut self, text: &str) -> Vec<ChatEvent> {
        self.buf.push_str(text);
        let mut out = Vec::new();
        loop {
            let progressed = match &mut self.state {
                State::Text => self.text(&mut out),
                State::Call(_) => self.call(&mut out),
            };
            if !progressed {
                return out;
            }
        }
    }

    /// The reply is over: what is held is final.
    pub(crate) fn finish(&mut self) -> Vec<ChatEvent> {
        let mut out = self.push("");
        let rest = std::mem::take(&mut self.buf);
        match std::mem::replace(&mut self.state, State::Text) {
            State::Text => {
                // Trailing whitespace is dropped after calls, kept in a plain reply.
                if !rest.is_empty() && (!rest.trim().is_empty() || self.calls == 0) {
                    out.push(ChatEvent::Delta(rest));
                }
            }
            State::Call(call) if call.announced => {
                // Cut off (max_tokens): the arguments read so far go out as they are.
                let end = call.args_end.unwrap_or(rest.len());
                if let Some(start) = call.args_start
                    && start + call.args_sent < end
                {
                    out.push(self.args(&rest[start + call.args_sent..end]));
                }
            }
            State::Call(_) => out.push(ChatEvent::Delta(format!("{}{OPEN}{rest}", self.gap))),
        }
        out
    }

    /// In text: sends what cannot begin a call; enters a call at `<tool_call>`.
    fn text(&mut self, out: &mut Vec<ChatEvent>) -> bool {
        if let Some(at) = self.buf.find(OPEN) {
            let before = &self.buf[..at];
            let text = before.trim_end();
            if !text.is_empty() {
                out.push(ChatEvent::Delta(text.to_owned()));
            }
            self.gap = before[text.len()..].to_owned();
            self.buf.drain(..at + OPEN.len());
            self.state = State::Call(Call::default());
            return true;
        }
        // Hold a tail that may be the start of `<tool_call>`, and the whitespace before it.
        let start = self.buf.char_indices().map(|(i, _)| i).find(|&i| OPEN.starts_with(&self.buf[i..])).unwrap_or(self.buf.len());
        let cut = self.buf[..start].trim_end().len();
        if cut > 0 {
            let emit: String = self.buf.drain(..cut).collect();
            out.push(ChatEvent::Delta(emit));
        }
        false
    }

    fn args(&self, piece: &str) -> ChatEvent {
        ChatEvent::ToolCall { index: self.calls - 1, id: None, name: None, arguments: piece.to_owned() }
    }

    /// In a call: reads as far as the text allows. Returns whether the call ended.
    fn call(&mut self, out: &mut Vec<ChatEvent>) -> bool {
        let State::Call(call) = &mut self.state else { return false };
        let buf = self.buf.as_str();
        loop {
            // Not after the call: what follows `</tool_call>` is the reply's text again.
            if !call.scanning && !matches!(call.step, Step::Broken | Step::Done) {
                let rest = &buf[call.pos..];
                call.pos += rest.len() - rest.trim_start().len();
            }
            let rest = &buf[call.pos..];
            match call.step {
                Step::Open => match rest.chars().next() {
                    None => break,
                    Some('{') => {
                        call.pos += 1;
                        call.step = Step::Key;
                    }
                    Some(_) => call.step = Step::Broken,
                },
                Step::Key => {
                    let Some((key, len)) = read_string(rest) else {
                        if rest.is_empty() || rest.starts_with('"') {
                            break;
                        }
                        call.step = Step::Broken;
                        continue;
                    };
                    let Some(key) = key else {
                        call.step = Step::Broken;
                        continue;
                    };
                    // The colon after the key.
                    let after = &rest[len..];
                    let trimmed = after.trim_start();
                    if trimmed.is_empty() {
                        break;
                    }
                    if !trimmed.starts_with(':') {
                        call.step = Step::Broken;
                        continue;
                    }
                    call.pos += len + (after.len() - trimmed.len()) + 1;
                    call.step = Step::Value(match key.as_str() {
                        "name" if call.name.is_none() => Field::Name,
                        "arguments" if call.args_start.is_none() => Field::Arguments,
                        _ => Field::Other,
                    });
                }
                Step::Value(Field::Name) => match read_string(rest) {
                    None if rest.is_empty() || rest.starts_with('"') => break,
                    Some((Some(name), len)) if !name.is_empty() => {
                        call.pos += len;
                        call.name = Some(name);
                        call.step = Step::AfterValue;
                    }
                    _ => call.step = Step::Broken,
                },
                Step::Value(field) => {
                    if rest.is_empty() {
                        break;
                    }
                    if field == Field::Arguments && call.args_start.is_none() {
                        call.args_start = Some(call.pos);
                    }
                    if scan_value(rest, call) {
                        if field == Field::Arguments {
                            call.args_end = Some(call.pos);
                        }
                        call.step = Step::AfterValue;
                    } else {
                        break;
                    }
                }
                Step::AfterValue => match rest.chars().next() {
                    None => break,
                    Some(',') => {
                        call.pos += 1;
                        call.step = Step::Key;
                    }
                    Some('}') => {
                        call.pos += 1;
                        call.step = Step::End;
                    }
                    Some(_) => call.step = Step::Broken,
                },
                Step::End => {
                    if rest.len() < CLOSE.len() && CLOSE.starts_with(rest) {
                        break;
                    }
                    if !rest.starts_with(CLOSE) || call.name.is_none() || call.args_end.is_none() {
                        call.step = Step::Broken;
                        continue;
                    }
                    call.pos += CLOSE.len();
                    call.step = Step::Done;
                }
                Step::Done | Step::Broken => break,
            }
        }
        // Send what is decided: the header once the name is known, then more arguments.
        // The header waits for the arguments to begin too, so a block with a name and nothing
        // else (no call at all) is still given back as text, however the text was split.
        if !call.announced
            && call.step != Step::Broken
            && call.args_start.is_some()
            && let Some(name) = &call.name
        {
            call.announced = true;
            self.calls += 1;
            self.gap.clear();
            out.push(ChatEvent::ToolCall {
                index: self.calls - 1,
                id: Some(call_id()),
                name: Some(name.clone()),
                arguments: String::new(),
            });
        }
        let State::Call(call) = &mut self.state else { return false };
        if call.announced
            && let Some(start) = call.args_start
        {
            let upto = call.args_end.unwrap_or(call.pos);
            if start + call.args_sent < upto {
                let piece = self.buf[start + call.args_sent..upto].to_owned();
                call.args_sent = upto - start;
                out.push(ChatEvent::ToolCall { index: self.calls - 1, id: None, name: None, arguments: piece });
            }
        }
        let State::Call(call) = &mut self.state else { return false };
        if call.step == Step::Done {
            self.buf.drain(..call.pos);
            self.state = State::Text;
            return true;
        }
        if call.step == Step::Broken {
            // Read to the block's end (looking from where reading stopped, so not inside a
            // string already read), or to the next block's start, then carry on from there.
            let rest = &self.buf[call.pos..];
            let end = match (rest.find(CLOSE), rest.find(OPEN)) {
                (Some(close), Some(open)) if open < close => call.pos + open,
                (Some(close), _) => call.pos + close + CLOSE.len(),
                (None, Some(open)) => call.pos + open,
                (None, None) => return false,
            };
            let block: String = self.buf.drain(..end).collect();
            let announced = call.announced;
            self.state = State::Text;
            if !announced {
                out.push(ChatEvent::Delta(format!("{}{OPEN}{block}", std::mem::take(&mut self.gap))));
            }
            return true;
        }
        false
    }
}

/// A whole JSON string at the start of `text`: its value (`None` if it is not valid JSON)
/// and its length. `None` when the string has not ended yet, or `text` is no string.
fn read_string(text: &str) -> Option<(Option<String>, usize)> {
    if !text.starts_with('"') {
        return None;
    }
    let mut escaped = false;
    for (i, c) in text.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some((serde_json::from_str(&text[..=i]).ok(), i + 1)),
            _ => {}
        }
    }
    None
}

/// Scans a JSON value from `call.pos` (carrying its state between calls): returns true once
/// the value has ended, with `call.pos` just after it.
fn scan_value(rest: &str, call: &mut Call) -> bool {
    call.scanning = true;
    for (i, c) in rest.char_indices() {
        let at_end = |call: &mut Call, len: usize| {
            call.pos += len;
            call.depth = 0;
            call.scanning = false;
            true
        };
        if call.in_string {
            match c {
                _ if call.escaped => call.escaped = false,
                '\\' => call.escaped = true,
                '"' => {
                    call.in_string = false;
                    if call.depth == 0 {
                        return at_end(call, i + 1);
                    }
                }
                _ => {}
            }
            continue;
        }
        match c {
            '"' => call.in_string = true,
            '{' | '[' => call.depth += 1,
            '}' | ']' if call.depth > 0 => {
                call.depth -= 1;
                if call.depth == 0 {
                    return at_end(call, i + 1);
                }
            }
            // A scalar (number, true, false, null) ends where the enclosing object goes on.
            ',' | '}' | ']' if call.depth == 0 => return at_end(call, i),
            c if call.depth == 0 && c.is_whitespace() => return at_end(call, i),
            _ => {}
        }
    }
    // Everything so far belongs to the value; wait for more.
    call.pos += rest.len();
    false
}

#[cfg(test)]
mod tests;
