//! Structured output: the reply (or a tool call, see `tools.rs`) is held to a JSON Schema (or
//! to "any JSON object") while it is sampled, not checked afterwards.
//!
//! llama.cpp converts the schema to a GBNF grammar and its grammar sampler says which tokens
//! may come next. Asking it about the whole vocabulary (262,144 tokens for Gemma 3) costs
//! about a tenth of a second per token here, so [`Constraint::sample`] first samples as usual
//! and asks about that one token (llama.cpp's own sampler does the same). When the grammar
//! refuses it, the choice is made again among the allowed tokens of a shortlist of the most
//! likely ones, and only when none of those is allowed, among the allowed tokens of the whole
//! vocabulary. The shortlist is chosen on the raw logits, so with a repeat penalty (which
//! lowers recent tokens before the choice) or with sampling it may leave out an allowed token
//! the full search would pick; without a penalty, greedy decoding gets exactly the full
//! search's answer.

use hearth_llm::{LlmError, ResponseFormat};
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;

use crate::sampler::Sampler;

/// How many of the most likely tokens the grammar is asked about before the whole vocabulary.
const SHORTLIST: usize = 512;

/// A GBNF grammar and the request field it comes from (`response_format` or `tools`), which
/// its errors name.
#[derive(Clone, Debug)]
pub(crate) struct Gbnf {
    pub(crate) text: String,
    pub(crate) field: &'static str,
}

/// The GBNF grammar for a response format. Converting a large schema takes a while, so the
/// engine does it on the caller's thread, not on the inference thread every request shares.
pub(crate) fn gbnf(format: &ResponseFormat) -> Result<Gbnf, LlmError> {
    let schema = match format {
        ResponseFormat::JsonObject => serde_json::json!({ "type": "object" }),
        ResponseFormat::JsonSchema(schema) => schema.clone(),
    };
    let text = llama_cpp_2::json_schema_to_grammar(&schema.to_string()).map_err(|e| LlmError::Invalid {
        field: "response_format",
        reason: format!("the JSON schema cannot be turned into a grammar ({e})"),
    })?;
    Ok(Gbnf { text, field: "response_format" })
}

/// A grammar that a reply's tokens must follow.
pub(crate) struct Constraint {
    grammar: LlamaSampler,
    masked: Vec<f32>,
    field: &'static str,
}

impl std::fmt::Debug for Constraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Constraint").finish_non_exhaustive()
    }
}

impl Constraint {
    /// A grammar over `model`'s vocabulary (see [`gbnf`]).
    pub(crate) fn new(model: &LlamaModel, gbnf: &Gbnf) -> Result<Self, LlmError> {
        let field = gbnf.field;
        let grammar = LlamaSampler::grammar(model, &gbnf.text, "root")
            .map_err(|e| LlmError::Invalid { field, reason: format!("the schema's grammar was refused ({e})") })?;
        Ok(Self { grammar, masked: Vec::new(), field })
    }

    /// Advances the grammar over tokens already generated (a grammar that starts mid-reply,
    /// at the text that began a tool call). Fails if the grammar refuses one of them.
    pub(crate) fn accept(&mut self, tokens: &[LlamaToken]) -> Result<(), LlmError> {
        for &token in tokens {
            self.grammar
                .try_accept(token)
                .map_err(|e| LlmError::Engine(format!("the {} grammar refused token {} ({e:?})", self.field, token.0)))?;
        }
        Ok(())
    }

    /// Picks the next token among those the grammar allows, and advances the grammar. Fails
    /// when the grammar allows no token at all (a dead end), rather than forcing one on it:
    /// llama.cpp aborts the process when a grammar is handed an end token it cannot take.
    pub(crate) fn sample(&mut self, sampler: &mut Sampler, logits: &[f32]) -> Result<i32, LlmError> {
        let first = sampler.sample(logits);
        let token = if self.allows(first, logits) {
            first
        } else if self.mask(logits, Some(SHORTLIST)) || self.mask(logits, None) {
            sampler.sample(&self.masked)
        } else {
            return Err(LlmError::Engine(format!("the {} grammar allows no next token", self.field)));
        };
        self.accept(&[LlamaToken(token)])?;
        Ok(token)
    }

    /// Fills `masked` with the logits of the tokens the grammar allows (the rest -inf),
    /// looking only at the `shortlist` most likely tokens when given. Returns whether any
    /// token is allowed.
    fn mask(&mut self, logits: &[f32], shortlist: Option<usize>) -> bool {
        let mut candidates: Vec<LlamaTokenData> =
            logits.iter().enumerate().map(|(i, &l)| LlamaTokenData::new(LlamaToken(i as i32), l, 0.0)).collect();
        if let Some(k) = shortlist.filter(|&k| k < candidates.len()) {
            candidates.select_nth_unstable_by(k, |a, b| b.logit().total_cmp(&a.logit()));
            candidates.truncate(k);
        }
        let mut array = LlamaTokenDataArray::new(candidates, false);
        array.apply_sampler(&mut self.grammar);
        self.masked.clear();
        self.masked.resize(logits.len(), f32::NEG_INFINITY);
        let mut any = false;
        for d in &array.data {
            if d.logit().is_finite() {
                self.masked[d.id().0 as usize] = d.logit();
                any = true;
            }
        }
        any
    }

    fn allows(&mut self, token: i32, logits: &[f32]) -> bool {
        let logit = logits.get(token as usize).copied().unwrap_or(f32::NEG_INFINITY);
        let mut one = LlamaTokenDataArray::new(vec![LlamaTokenData::new(LlamaToken(token), logit, 0.0)], false);
        one.apply_sampler(&mut self.grammar);
        one.data[0].logit().is_finite()
    }
}
