//! Hearth end to end, against its real parts: the real `hearth` binary, a real SQLite file,
//! real processes (killed mid-write, racing each other), the real default model file (and
//! Gemma 3 270M for the engine's exactness), the real Secret Service, and the sync test bed
//! (PostgreSQL 15 with Hearth's server schema behind postrust).

mod chat;
mod concurrency;
mod crash;
mod embedder;
mod engine;
mod knowledge;
mod knowledge_sync;
mod providers;
mod session;
mod sync;
mod sync_cli;
mod sync_server;
mod workflows;
