//! Hearth end to end, against its real parts: the real `hearth` binary, a real SQLite file,
//! real processes (killed mid-write, racing each other), and the real default model file.

mod chat;
mod concurrency;
mod crash;
mod engine;
mod providers;
mod session;
mod sync;
mod sync_cli;
mod sync_server;
mod workflows;
