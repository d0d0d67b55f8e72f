//! Turning token bytes into the text a reply streams: whole UTF-8 characters only, and
//! nothing that could be the start of a stop string until it is known not to be one.
//!
//! A token may end in the middle of a character (a CJK character or an emoji spans several
//! tokens in many vocabularies), and a stop string may be split across tokens. [`TextStream`]
//! holds back exactly what is still undecided and releases it as soon as it is decided.

/// What one step of the stream produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Step {
    /// Text that can be shown now.
    pub(crate) emit: String,
    /// A stop string was found; nothing after it is emitted.
    pub(crate) stopped: bool,
}

#[derive(Debug)]
pub(crate) struct TextStream {
    stops: Vec<String>,
    /// Bytes of an unfinished UTF-8 character.
    bytes: Vec<u8>,
    /// Decoded text that might still turn into a stop string.
    held: String,
    /// A stop string was found: nothing more is ever emitted.
    stopped: bool,
}

impl TextStream {
    pub(crate) fn new(stops: &[String]) -> Self {
        Self { stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(), bytes: Vec::new(), held: String::new(), stopped: false }
    }

    /// Adds a token's bytes.
    pub(crate) fn push(&mut self, piece: &[u8]) -> Step {
        if self.stopped {
            return Step { emit: String::new(), stopped: true };
        }
        self.bytes.extend_from_slice(piece);
        let mut decoded = String::new();
        loop {
            match std::str::from_utf8(&self.bytes) {
                Ok(s) => {
                    decoded.push_str(s);
                    self.bytes.clear();
                    break;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    // The first `valid_up_to` bytes are valid UTF-8 by definition.
                    decoded.push_str(std::str::from_utf8(&self.bytes[..valid]).unwrap_or_default());
                    match e.error_len() {
                        // An unfinished character at the end: wait for the next token.
                        None => {
                            self.bytes.drain(..valid);
                            break;
                        }
                        // Bytes that can never be UTF-8: show a replacement character.
                        Some(bad) => {
                            decoded.push(char::REPLACEMENT_CHARACTER);
                            self.bytes.drain(..valid + bad);
                        }
                    }
                }
            }
        }
        self.held.push_str(&decoded);
        self.release()
    }

    /// Ends the stream: whatever is held is final text (an unfinished character becomes
    /// U+FFFD), unless a stop string already ended it.
    pub(crate) fn finish(&mut self) -> String {
        if self.stopped {
            return String::new();
        }
        let mut out = std::mem::take(&mut self.held);
        if !self.bytes.is_empty() {
            out.push_str(&String::from_utf8_lossy(&self.bytes));
            self.bytes.clear();
        }
        out
    }

    fn release(&mut self) -> Step {
        // The earliest stop string wins.
        if let Some(at) = self.stops.iter().filter_map(|s| self.held.find(s.as_str())).min() {
            let emit = self.held[..at].to_owned();
            self.held.clear();
            self.bytes.clear();
            self.stopped = true;
            return Step { emit, stopped: true };
        }
        // Hold the longest tail that is the beginning of some stop string.
        let mut keep = 0;
        for stop in &self.stops {
            for (i, _) in self.held.char_indices() {
                let tail = &self.held[i..];
                if tail.len() < stop.len() && stop.starts_with(tail) {
                    keep = keep.max(tail.len());
                    break;
                }
            }
        }
        let cut = self.held.len() - keep;
        let emit = self.held[..cut].to_owned();
        self.held.drain(..cut);
        Step { emit, stopped: false }
    }
}

#[cfg(test)]
mod tests;
