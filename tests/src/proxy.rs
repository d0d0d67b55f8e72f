//! A TCP proxy in front of the REST server that can cut a device off: refuse everything
//! (offline), or let requests through and swallow their answers (the server applied the push
//! but the device never heard). The mode is read on every chunk, so pooled connections obey a
//! change at once.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

/// What the proxy does with traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    Pass = 0,
    /// Connections are closed at once: the device is offline.
    Offline = 1,
    /// Requests reach the server; answers are dropped and the connection closed.
    LoseAnswers = 2,
}

#[derive(Debug, Clone)]
pub struct Proxy {
    pub url: String,
    mode: Arc<AtomicU8>,
}

impl Proxy {
    /// Forwards to `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> Self {
        let upstream = upstream.strip_prefix("http://").unwrap().to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy = Proxy { url: format!("http://{}", listener.local_addr().unwrap()), mode: Arc::new(AtomicU8::new(0)) };
        let mode = proxy.mode.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if mode.load(Ordering::SeqCst) == Mode::Offline as u8 {
                    continue; // dropped: closed
                }
                let Ok(server) = TcpStream::connect(&upstream) else { continue };
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let up_mode = mode.clone();
                std::thread::spawn(move || pump(client, server, up_mode, false));
                let down_mode = mode.clone();
                std::thread::spawn(move || pump(s2, c2, down_mode, true));
            }
        });
        proxy
    }

    pub fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }
}

/// Copies `from` to `to` until either side closes or the mode cuts it.
fn pump(mut from: TcpStream, mut to: TcpStream, mode: Arc<AtomicU8>, answers: bool) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let m = mode.load(Ordering::SeqCst);
        if m == Mode::Offline as u8 || (answers && m == Mode::LoseAnswers as u8) {
            // The server has answered, so it has committed: let it finish, then cut.
            std::thread::sleep(Duration::from_millis(20));
            break;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
