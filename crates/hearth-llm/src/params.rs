//! Sampling parameters and their validation.

use serde::{Deserialize, Serialize};

use crate::LlmError;

/// How to pick tokens and when to stop. `temperature == 0` means greedy (always the most
/// likely token), which with the same prompt gives the same text every time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplingParams {
    pub temperature: f32,
    pub top_p: f32,
    /// 0 keeps every token.
    pub top_k: u32,
    pub min_p: f32,
    /// 1.0 is off.
    pub repeat_penalty: f32,
    /// How many recent tokens the repeat penalty looks at.
    pub repeat_last_n: u32,
    pub seed: u64,
    pub max_tokens: u32,
    /// The reply ends before the first of these and never contains it.
    pub stop: Vec<String>,
    /// Keep generating past the model's end-of-turn token (until `max_tokens`), as
    /// benchmarks do to measure a fixed number of tokens.
    pub ignore_eos: bool,
    /// Constrains the reply's shape (JSON output); `None` is free text.
    pub format: Option<ResponseFormat>,
}

/// A shape the reply must have, enforced while sampling (a grammar), not checked afterwards.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Any JSON object.
    JsonObject,
    /// JSON matching this JSON Schema.
    JsonSchema(serde_json::Value),
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            // Cooler than llama.cpp's 0.8: the default model is a 135M one, and at 0.8 it
            // drifted into nonsense on one "What is the capital of France?" in seven (51 of 60
            // named Paris; 60 of 60 at 0.4). A request's own temperature still wins.
            temperature: 0.4,
            top_p: 0.95,
            top_k: 40,
            min_p: 0.05,
            repeat_penalty: 1.1,
            repeat_last_n: 64,
            seed: 0,
            max_tokens: 512,
            stop: Vec::new(),
            ignore_eos: false,
            format: None,
        }
    }
}

impl SamplingParams {
    /// Always the most likely token: reproducible output.
    pub fn greedy(max_tokens: u32) -> Self {
        Self { temperature: 0.0, repeat_penalty: 1.0, max_tokens, ..Self::default() }
    }

    pub fn validate(&self) -> Result<(), LlmError> {
        let bad = |field, reason: &str| Err(LlmError::Invalid { field, reason: reason.to_owned() });
        if !self.temperature.is_finite() || self.temperature < 0.0 {
            return bad("temperature", "must be 0 or more (0 picks the most likely token)");
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad("top_p", "must be more than 0 and at most 1");
        }
        if !(0.0..=1.0).contains(&self.min_p) {
            return bad("min_p", "must be between 0 and 1");
        }
        if !self.repeat_penalty.is_finite() || self.repeat_penalty <= 0.0 {
            return bad("repeat_penalty", "must be more than 0 (1 is off)");
        }
        if self.max_tokens == 0 {
            return bad("max_tokens", "must be at least 1");
        }
        if self.stop.iter().any(String::is_empty) {
            return bad("stop", "stop strings must not be empty");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_their_field() {
        SamplingParams::default().validate().unwrap();
        SamplingParams::greedy(8).validate().unwrap();
        let field = |p: SamplingParams| match p.validate() {
            Err(LlmError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(SamplingParams { temperature: -0.1, ..Default::default() }), "temperature");
        assert_eq!(field(SamplingParams { temperature: f32::NAN, ..Default::default() }), "temperature");
        assert_eq!(field(SamplingParams { top_p: 0.0, ..Default::default() }), "top_p");
        assert_eq!(field(SamplingParams { min_p: 1.5, ..Default::default() }), "min_p");
        assert_eq!(field(SamplingParams { repeat_penalty: 0.0, ..Default::default() }), "repeat_penalty");
        assert_eq!(field(SamplingParams { max_tokens: 0, ..Default::default() }), "max_tokens");
        assert_eq!(field(SamplingParams { stop: vec![String::new()], ..Default::default() }), "stop");
    }
}
