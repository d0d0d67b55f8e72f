//! Server-sent events, decoded incrementally from the bytes of an HTTP body.
//!
//! Pure and synchronous: [`SseDecoder::feed`] takes whatever bytes arrived and returns the
//! events they completed. It follows the WHATWG rules providers rely on (`data:` lines joined
//! with newlines, `event:` names, `:` comments as keep-alives, CR, LF or CRLF line ends) and is
//! stricter in one place: a line that is no SSE field at all (an HTML page, a proxy's error
//! text) is an error, not something to skip silently.

/// One dispatched event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` name; `None` for the default ("message").
    pub event: Option<String>,
    pub data: String,
}

/// Longest line accepted; a provider does not send megabytes without a newline.
const MAX_LINE: usize = 8 << 20;

#[derive(Debug, Default)]
pub struct SseDecoder {
    /// Bytes of an unfinished line.
    line: Vec<u8>,
    /// A CR ended the last line; a LF right after it belongs to it.
    after_cr: bool,
    event: Option<String>,
    data: Option<String>,
}

impl SseDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes `bytes`, returning the events they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, String> {
        let mut events = Vec::new();
        for &b in bytes {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' | b'\r' => {
                    self.after_cr = b == b'\r';
                    let line = std::mem::take(&mut self.line);
                    if let Some(event) = self.line_done(&line)? {
                        events.push(event);
                    }
                }
                _ if self.line.len() >= MAX_LINE => return Err("an event stream line longer than 8 MiB".into()),
                _ => self.line.push(b),
            }
        }
        Ok(events)
    }

    /// Whether bytes of an unfinished event are pending (the stream ended mid-event).
    pub fn has_partial(&self) -> bool {
        !self.line.is_empty() || self.data.is_some()
    }

    fn line_done(&mut self, line: &[u8]) -> Result<Option<SseEvent>, String> {
        if line.is_empty() {
            // A blank line dispatches; an event without data lines is dropped, as the spec says.
            let event = self.event.take();
            return Ok(self.data.take().map(|data| SseEvent { event, data }));
        }
        let line = std::str::from_utf8(line).map_err(|_| "an event stream line that is not UTF-8".to_owned())?;
        if line.starts_with(':') {
            return Ok(None); // a comment: keep-alive
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            "event" => self.event = Some(value.to_owned()),
            "id" | "retry" => {}
            _ => return Err(format!("a line that is not server-sent events: {:?}", excerpt(line))),
        }
        Ok(None)
    }
}

/// The start of a text, for error messages.
pub(crate) fn excerpt(text: &str) -> String {
    let mut out: String = text.chars().take(120).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent { event: event.map(str::to_owned), data: data.to_owned() }
    }

    #[test]
    fn events_split_across_reads_and_line_endings_decode_the_same() {
        let text = "event: a\r\ndata: one\r\n\r\n: keep-alive\n\ndata: two\ndata:three\n\nid: 7\rretry: 10\rdata: four\r\r";
        let want = vec![ev(Some("a"), "one"), ev(None, "two\nthree"), ev(None, "four")];
        let mut whole = SseDecoder::new();
        assert_eq!(whole.feed(text.as_bytes()).unwrap(), want);
        assert!(!whole.has_partial());
        // Byte by byte, so CRLF pairs and UTF-8 are split everywhere.
        let mut bytes = SseDecoder::new();
        let got: Vec<_> = text.as_bytes().iter().flat_map(|b| bytes.feed(&[*b]).unwrap()).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn an_empty_data_line_is_an_event_and_multibyte_text_survives_splits() {
        let mut d = SseDecoder::new();
        assert_eq!(d.feed(b"data:\n\n").unwrap(), vec![ev(None, "")]);
        let text = "data: h\u{e9}llo \u{1f525}\n\n".as_bytes();
        let (a, b) = text.split_at(9);
        assert!(d.feed(a).unwrap().is_empty());
        assert_eq!(d.feed(b).unwrap(), vec![ev(None, "h\u{e9}llo \u{1f525}")]);
    }

    #[test]
    fn lines_that_are_not_sse_are_errors_and_a_cut_event_is_visible() {
        let err = SseDecoder::new().feed(b"<html><body>Bad gateway</body></html>\n").unwrap_err();
        assert!(err.contains("not server-sent events") && err.contains("<html>"), "{err}");
        assert!(SseDecoder::new().feed(b"data: \xff\xfe\n").unwrap_err().contains("UTF-8"));
        let mut d = SseDecoder::new();
        assert!(d.feed(b"data: {\"half\":").unwrap().is_empty());
        assert!(d.has_partial());
    }
}
