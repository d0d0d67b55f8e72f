//! A stand-in for Supabase Auth (GoTrue), the one fake in the sync tests: Supabase Auth
//! itself is not available on this machine. It speaks the parts Hearth uses, the way GoTrue
//! does: `POST /token?grant_type=password` and `?grant_type=refresh_token` (refresh tokens are
//! single use and rotate), and `POST /logout`. Access tokens are HS256 JWTs signed with the
//! test bed's secret, so the REST server accepts them, and live as long as the test says.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::testbed::{signed, unix_now};

#[derive(Debug, Default)]
struct State {
    /// email -> (password, user id)
    users: HashMap<String, (String, String)>,
    /// live refresh token -> (user id, email)
    refresh: HashMap<String, (String, String)>,
    issued: usize,
}

/// A running fake auth server.
#[derive(Debug, Clone)]
pub struct FakeAuth {
    /// The auth root (`http://127.0.0.1:PORT`), as `/auth/v1` is on Supabase.
    pub url: String,
    state: Arc<Mutex<State>>,
    lifetime: Arc<Mutex<i64>>,
    pub password_grants: Arc<AtomicUsize>,
    pub refresh_grants: Arc<AtomicUsize>,
    pub logouts: Arc<AtomicUsize>,
}

impl FakeAuth {
    /// Starts the server; access tokens it issues live `lifetime` seconds.
    pub fn start(lifetime: i64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let auth = FakeAuth {
            url: format!("http://{}", listener.local_addr().unwrap()),
            state: Arc::default(),
            lifetime: Arc::new(Mutex::new(lifetime)),
            password_grants: Arc::default(),
            refresh_grants: Arc::default(),
            logouts: Arc::default(),
        };
        let server = auth.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let server = server.clone();
                std::thread::spawn(move || server.serve(stream));
            }
        });
        auth
    }

    /// Registers a user (who must exist in `auth.users`).
    pub fn add_user(&self, email: &str, password: &str, id: &str) {
        self.state.lock().unwrap().users.insert(email.to_owned(), (password.to_owned(), id.to_owned()));
    }

    pub fn set_lifetime(&self, seconds: i64) {
        *self.lifetime.lock().unwrap() = seconds;
    }

    fn serve(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let target = line.split_whitespace().nth(1).unwrap_or("").to_owned();
            let mut length = 0;
            let mut bearer = None;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                let header = header.trim_end();
                if header.is_empty() {
                    break;
                }
                let (name, value) = header.split_once(':').unwrap_or((header, ""));
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "authorization" => bearer = value.trim().strip_prefix("Bearer ").map(str::to_owned),
                    _ => {}
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let (status, answer) = self.route(&target, &body, bearer.as_deref());
            let text = answer.map(|a| a.to_string()).unwrap_or_default();
            let mut out = &stream;
            let reason = if status < 300 { "OK" } else { "Error" };
            let _ =
                write!(out, "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}", text.len());
        }
    }

    fn route(&self, target: &str, body: &Value, bearer: Option<&str>) -> (u16, Option<Value>) {
        let mut state = self.state.lock().unwrap();
        match target {
            "/token?grant_type=password" => {
                self.password_grants.fetch_add(1, Ordering::SeqCst);
                let email = body["email"].as_str().unwrap_or("");
                match state.users.get(email) {
                    Some((password, id)) if Some(password.as_str()) == body["password"].as_str() => {
                        let id = id.clone();
                        (200, Some(self.issue(&mut state, &id, email)))
                    }
                    _ => (400, Some(json!({ "code": 400, "error_code": "invalid_credentials", "msg": "Invalid login credentials" }))),
                }
            }
            "/token?grant_type=refresh_token" => {
                self.refresh_grants.fetch_add(1, Ordering::SeqCst);
                match state.refresh.remove(body["refresh_token"].as_str().unwrap_or("")) {
                    Some((id, email)) => (200, Some(self.issue(&mut state, &id, &email))),
                    None => (
                        400,
                        Some(
                            json!({ "code": 400, "error_code": "refresh_token_not_found", "msg": "Invalid Refresh Token: Refresh Token Not Found" }),
                        ),
                    ),
                }
            }
            "/logout" | "/logout?scope=global" => {
                self.logouts.fetch_add(1, Ordering::SeqCst);
                let sub = bearer.and_then(claims_sub);
                state.refresh.retain(|_, (id, _)| Some(id.as_str()) != sub.as_deref());
                (204, None)
            }
            _ => (404, Some(json!({ "code": 404, "msg": "not found" }))),
        }
    }

    fn issue(&self, state: &mut State, id: &str, email: &str) -> Value {
        state.issued += 1;
        let lifetime = *self.lifetime.lock().unwrap();
        let exp = unix_now() + lifetime;
        let access = signed(&json!({ "sub": id, "role": "authenticated", "email": email, "exp": exp, "n": state.issued }));
        let refresh = format!("refresh-{}-{}", state.issued, id);
        state.refresh.insert(refresh.clone(), (id.to_owned(), email.to_owned()));
        json!({
            "access_token": access, "token_type": "bearer", "expires_in": lifetime, "expires_at": exp,
            "refresh_token": refresh, "user": { "id": id, "email": email, "aud": "authenticated" },
        })
    }

    /// How many refresh tokens are live (signing out revokes them).
    pub fn live_refresh_tokens(&self) -> usize {
        self.state.lock().unwrap().refresh.len()
    }
}

fn claims_sub(jwt: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims["sub"].as_str().map(str::to_owned)
}
