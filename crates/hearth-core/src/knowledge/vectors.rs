//! A workspace's chunk vectors laid out for the exact scan: read from SQLite once into one
//! contiguous block, and kept while the workspace's documents stay as they were (the store's
//! `knowledge_stamp`, which any stored, replaced or removed document changes, in any
//! process), so a search reads no vectors from disk. The blocks of the last [`KEEP`] workspaces searched are kept:
//! 10,000 chunks of all-MiniLM-L6-v2 take 15 MB.

use std::sync::{Arc, Mutex};

use hearth_store::KnowledgeStamp;
use hearth_types::WorkspaceId;

/// How many workspaces' vectors stay in memory.
pub(crate) const KEEP: usize = 2;

/// Vectors of one length, row after row, with each row's chunk id.
#[derive(Debug)]
pub(crate) struct Block {
    stamp: KnowledgeStamp,
    dims: usize,
    seqs: Vec<i64>,
    data: Vec<f32>,
}

impl Block {
    /// The rows whose vectors have the length most rows have (a model's vectors all do; a
    /// stray one of another length is left out).
    pub(crate) fn new(stamp: KnowledgeStamp, rows: Vec<(i64, Vec<f32>)>) -> Self {
        let mut lengths: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
        for (_, v) in &rows {
            *lengths.entry(v.len()).or_default() += 1;
        }
        let dims = lengths.into_iter().max_by_key(|&(len, n)| (n, len)).map_or(0, |(len, _)| len);
        let mut seqs = Vec::with_capacity(rows.len());
        let mut data = Vec::with_capacity(rows.len() * dims);
        for (seq, v) in rows.into_iter().filter(|(_, v)| v.len() == dims) {
            seqs.push(seq);
            data.extend_from_slice(&v);
        }
        Self { stamp, dims, seqs, data }
    }

    /// The `k` rows with the largest dot product with `q` (cosine, all being normalized), best
    /// first: exact, by brute force.
    pub(crate) fn nearest(&self, q: &[f32], k: usize) -> Vec<(i64, f64)> {
        if q.len() != self.dims || self.dims == 0 {
            return Vec::new();
        }
        let mut scored: Vec<(i64, f64)> =
            self.data.chunks_exact(self.dims).zip(&self.seqs).map(|(v, seq)| (*seq, f64::from(dot(v, q)))).collect();
        let k = k.min(scored.len());
        if k == 0 {
            return Vec::new();
        }
        scored.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
        scored.truncate(k);
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        scored
    }
}

/// A dot product in eight lanes, which the compiler turns into SIMD (a plain `sum` of
/// products must add in order, one at a time).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    let mut lanes = [0f32; 8];
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// A kept block, under its workspace and model.
type Entry = ((WorkspaceId, String), Arc<Block>);

/// The blocks kept, most recently used first.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    blocks: Mutex<Vec<Entry>>,
}

impl Cache {
    /// The block of `workspace` and `model` as of `stamp`: the kept one when it is that
    /// recent, else what `load` reads (then kept).
    pub(crate) fn get<E>(
        &self,
        workspace: WorkspaceId,
        model: &str,
        stamp: KnowledgeStamp,
        load: impl FnOnce() -> Result<Vec<(i64, Vec<f32>)>, E>,
    ) -> Result<Arc<Block>, E> {
        let key = (workspace, model.to_owned());
        {
            let mut blocks = self.blocks.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(i) = blocks.iter().position(|(k, b)| *k == key && b.stamp == stamp) {
                let hit = blocks.remove(i);
                let block = hit.1.clone();
                blocks.insert(0, hit);
                return Ok(block);
            }
        }
        // Read outside the lock: another workspace's search need not wait for this one.
        let block = Arc::new(Block::new(stamp, load()?));
        let mut blocks = self.blocks.lock().unwrap_or_else(|p| p.into_inner());
        blocks.retain(|(k, _)| *k != key);
        blocks.insert(0, (key, block.clone()));
        blocks.truncate(KEEP);
        Ok(block)
    }
}
