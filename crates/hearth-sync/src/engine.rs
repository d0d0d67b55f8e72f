//! The engine: one round of push-then-pull ([`Engine::sync_now`]) and the background loop
//! ([`Engine::run`]) that repeats rounds when there is something to do.
//!
//! The loop's schedule: the outbox is checked locally every `local_poll` and pushed at once
//! when it holds changes; otherwise the server is asked once per `idle_interval` (one pull
//! request, which is the cheap check). A failed round waits an exponentially growing,
//! jittered backoff before the next attempt. [`Engine::kick`] starts a round now.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hearth_secrets::{Secret, SecretStore};
use hearth_store::{LocalData, Store, SyncConnection, SyncState, TxOutcome};
use hearth_types::Timestamp;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::auth::{AuthClient, Session};
use crate::rest::Rest;
use crate::{Activity, CursorView, Endpoints, Error, Result, Status};

/// Tuning of the engine. The defaults suit a desktop.
#[derive(Clone, Debug)]
pub struct Options {
    /// Client transactions per push request.
    pub push_batch: u32,
    /// About how many bytes of changes one push request carries (always at least one
    /// transaction): a batch of documents, each with its text, stays a request a server takes.
    pub push_bytes: usize,
    /// Rows per pull page (the server caps it at 5000).
    pub pull_page: u32,
    /// How often an idle engine asks the server for changes.
    pub idle_interval: Duration,
    /// How often the loop looks at the local outbox (no request).
    pub local_poll: Duration,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    pub request_timeout: Duration,
    /// Refresh the session when it expires within this.
    pub refresh_margin: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            push_batch: 500,
            push_bytes: 8 << 20,
            pull_page: 2000,
            idle_interval: Duration::from_secs(30),
            local_poll: Duration::from_millis(500),
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            request_timeout: Duration::from_secs(30),
            refresh_margin: Duration::from_secs(60),
        }
    }
}

/// What a round has done so far, for a progress line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    Pushed { transactions: u64, remaining: u64 },
    Pulled { rows: u64, version: i64, head: i64 },
}

/// What one round did.
/// What the status is made of, read at one moment (see [`Engine::status`]).
struct Snapshot {
    state: Option<SyncState>,
    pending: hearth_store::Pending,
    rejected: Vec<hearth_store::Rejection>,
    quarantined: Vec<hearth_store::Quarantined>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Round {
    /// Transactions the server applied (or had applied already).
    pub pushed: u64,
    /// Transactions the server refused, now dead letters.
    pub rejected: u64,
    /// Rows pulled and merged.
    pub pulled: u64,
    /// Requests sent.
    pub requests: u64,
}

/// Sync for one local store. Share it in an `Arc`; every method takes `&self`.
pub struct Engine {
    store: Arc<Store>,
    secrets: Arc<dyn SecretStore>,
    options: Options,
    /// The session as last loaded or refreshed (`None` inside: signed out). One refresh at a time.
    session: tokio::sync::Mutex<Option<Option<Session>>>,
    rest: Mutex<Option<(String, Rest)>>,
    kick: Notify,
    activity: Mutex<Activity>,
    status: watch::Sender<Option<Status>>,
    requests: AtomicU64,
    /// Serialises rounds: the loop and a `sync now` never interleave.
    round_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("store", &self.store.path()).finish_non_exhaustive()
    }
}

fn secret_name(client_id: &str) -> String {
    format!("sync-session:{client_id}")
}

impl Engine {
    pub fn new(store: Arc<Store>, secrets: Arc<dyn SecretStore>, options: Options) -> Arc<Self> {
        Arc::new(Engine {
            store,
            secrets,
            options,
            session: tokio::sync::Mutex::new(None),
            rest: Mutex::new(None),
            kick: Notify::new(),
            activity: Mutex::new(Activity::Stopped),
            status: watch::channel(None).0,
            requests: AtomicU64::new(0),
            round_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// How many requests this engine has sent (for measuring the idle cost).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Status updates: a new value after every round and every change of activity.
    pub fn watch(&self) -> watch::Receiver<Option<Status>> {
        self.status.subscribe()
    }

    /// Starts a round as soon as the background loop can.
    pub fn kick(&self) {
        self.kick.notify_one();
    }

    fn state(&self) -> Result<SyncState> {
        self.store.read(|r| r.sync_state())?.ok_or(Error::NotConnected)
    }

    /// Saves the project to sync with. Another project gets a new device id; the old
    /// session is signed out locally.
    pub async fn connect(&self, endpoints: &Endpoints) -> Result<SyncState> {
        let before = self.store.read(|r| r.sync_state())?;
        let connection = SyncConnection {
            rest_url: endpoints.rest_url.clone(),
            auth_url: endpoints.auth_url.clone(),
            anon_key: endpoints.anon_key.clone(),
        };
        let state = self.store.connect_sync(&connection)?;
        if let Some(before) = before.filter(|b| b.client_id != state.client_id) {
            self.secrets.delete(&secret_name(&before.client_id))?;
        }
        *self.session.lock().await = None;
        *self.rest.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.publish();
        Ok(state)
    }

    /// Signs in with email and password through Supabase Auth. `local` is needed when the
    /// account differs from the one this device synced for (see [`Engine::adopt`]).
    pub async fn sign_in(&self, email: &str, password: &str, local: Option<LocalData>) -> Result<Session> {
        let state = self.state()?;
        let auth = self.auth(&state)?;
        self.count();
        let session = auth.sign_in(email.trim(), password).await?;
        let state = self.adopt(state, &session, local).await?;
        self.save_session(&state, Some(&session)).await?;
        self.kick();
        Ok(session)
    }

    /// Uses tokens minted elsewhere (a self-hosted PostgREST's own JWTs).
    pub async fn use_tokens(&self, access_token: &str, refresh_token: Option<&str>, local: Option<LocalData>) -> Result<Session> {
        let state = self.state()?;
        let session = Session::from_tokens(access_token, refresh_token)?;
        let state = self.adopt(state, &session, local).await?;
        self.save_session(&state, Some(&session)).await?;
        self.kick();
        Ok(session)
    }

    /// The sync state `session`'s user may use. The same account (or a device that never
    /// synced) keeps its state. Another account gets a fresh one (a new device id, the pull from
    /// the start, the old session gone from the keychain), and only once the user has said what
    /// becomes of the data already here: without `local` the sign-in is refused, so two
    /// accounts' data never mix by surprise.
    async fn adopt(&self, state: SyncState, session: &Session, local: Option<LocalData>) -> Result<SyncState> {
        let Some(owner) = state.owner_id.clone().filter(|o| *o != session.user_id) else { return Ok(state) };
        let Some(local) = local else { return Err(Error::AccountChanged { previous: owner }) };
        // No round may be going while the state changes under it: one would write the old
        // account's cursor into the new state. The next round starts from the fresh one.
        let _one = self.round_lock.lock().await;
        tracing::info!(previous = %owner, user = %session.user_id, ?local, "sync: another account signed in; starting a fresh sync state");
        self.secrets.delete(&secret_name(&state.client_id))?;
        let fresh = self.store.switch_sync_account(&session.user_id, local)?;
        *self.session.lock().await = None;
        *self.rest.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(fresh)
    }

    /// Signs out: the server forgets the session when it can be reached, and the keychain
    /// forgets the tokens either way. Local data and pending changes stay.
    pub async fn sign_out(&self) -> Result<()> {
        let state = self.state()?;
        let session = self.load_session(&state).await?;
        let mut remote = Ok(());
        if let (Some(session), Some(_)) = (&session, &state.connection.auth_url) {
            self.count();
            remote = self.auth(&state)?.sign_out(&session.access_token).await;
        }
        self.save_session(&state, None).await?;
        match remote {
            // Signed out here either way; the server's session simply expires.
            Err(e @ Error::Offline { .. }) => {
                tracing::warn!(error = %e, "signed out locally; the auth server could not be told");
                Ok(())
            }
            other => other,
        }
    }

    /// Where sync stands. The session is read from the keychain, not the cache: another
    /// process may have signed in or out.
    pub async fn status(&self) -> Result<Status> {
        let snapshot = self.snapshot()?;
        let state = snapshot.state.clone();
        let session = match &state {
            Some(state) => {
                let fresh = self.read_session(state)?;
                *self.session.lock().await = Some(fresh.clone());
                fresh
            }
            None => None,
        };
        Ok(self.compose(snapshot, session))
    }

    /// The sync state and the queues, read in one transaction: a round committing between two
    /// reads would otherwise show its push half done (no changes pending, yet none pushed).
    fn snapshot(&self) -> Result<Snapshot> {
        Ok(self.store.read(|r| {
            Ok(Snapshot { state: r.sync_state()?, pending: r.pending()?, rejected: r.rejections()?, quarantined: r.quarantined()? })
        })?)
    }

    fn compose(&self, snapshot: Snapshot, session: Option<Session>) -> Status {
        let Snapshot { state, pending, rejected, quarantined } = snapshot;
        let activity = *self.activity.lock().unwrap_or_else(|p| p.into_inner());
        Status {
            connected: state.is_some(),
            rest_url: state.as_ref().map(|s| s.connection.rest_url.clone()),
            auth_url: state.as_ref().and_then(|s| s.connection.auth_url.clone()),
            client_id: state.as_ref().map(|s| s.client_id.clone()),
            signed_in: session.is_some(),
            user_id: session.as_ref().map(|s| s.user_id.clone()).or(state.as_ref().and_then(|s| s.user_id.clone())),
            email: session.as_ref().and_then(|s| s.email.clone()).or(state.as_ref().and_then(|s| s.email.clone())),
            session_expires_at: session.as_ref().and_then(Session::expiry),
            pending,
            rejected,
            quarantined,
            last_push_at: state.as_ref().and_then(|s| s.last_push_at),
            last_pull_at: state.as_ref().and_then(|s| s.last_pull_at),
            last_error: state.as_ref().and_then(|s| s.last_error.clone()),
            last_error_at: state.as_ref().and_then(|s| s.last_error_at),
            cursor: state.as_ref().map(|s| CursorView::from(&s.cursor)),
            head: state.as_ref().map_or(0, |s| s.head),
            activity: if session.is_some() { activity } else { Activity::Stopped },
        }
    }

    /// Sends the status to watchers when it changed (best effort: a status that cannot be read
    /// is skipped).
    fn publish(&self) {
        let session = self.session.try_lock().ok().and_then(|s| s.clone()).flatten();
        if let Ok(status) = self.snapshot().map(|snapshot| self.compose(snapshot, session)) {
            // Watchers (the UI's event stream) hear about changes, not about every poll.
            self.status.send_if_modified(|current| {
                let changed = current.as_ref() != Some(&status);
                if changed {
                    *current = Some(status);
                }
                changed
            });
        }
    }

    fn set_activity(&self, activity: Activity) {
        *self.activity.lock().unwrap_or_else(|p| p.into_inner()) = activity;
        self.publish();
    }

    fn count(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    fn auth(&self, state: &SyncState) -> Result<AuthClient> {
        let root = state.connection.auth_url.as_deref().ok_or_else(|| {
            Error::Invalid("this connection has no auth URL: connect with a Supabase project URL or --auth-url, or hand over tokens".into())
        })?;
        AuthClient::new(root, state.connection.anon_key.as_deref(), self.options.request_timeout)
    }

    fn rest(&self, state: &SyncState) -> Rest {
        let mut slot = self.rest.lock().unwrap_or_else(|p| p.into_inner());
        match &*slot {
            Some((url, rest)) if *url == state.connection.rest_url => rest.clone(),
            _ => {
                let rest = Rest::new(&state.connection.rest_url, state.connection.anon_key.as_deref(), self.options.request_timeout);
                *slot = Some((state.connection.rest_url.clone(), rest.clone()));
                rest
            }
        }
    }

    async fn load_session(&self, state: &SyncState) -> Result<Option<Session>> {
        let mut slot = self.session.lock().await;
        if let Some(s) = &*slot {
            return Ok(s.clone());
        }
        let loaded = self.read_session(state)?;
        *slot = Some(loaded.clone());
        Ok(loaded)
    }

    fn read_session(&self, state: &SyncState) -> Result<Option<Session>> {
        let Some(secret) = self.secrets.get(&secret_name(&state.client_id))? else { return Ok(None) };
        // A secret that no longer parses is a session that cannot be used: signed out.
        Ok(serde_json::from_str(secret.expose()).ok())
    }

    async fn save_session(&self, state: &SyncState, session: Option<&Session>) -> Result<()> {
        let name = secret_name(&state.client_id);
        match session {
            Some(s) => {
                let json = serde_json::to_string(s).map_err(|e| Error::Invalid(e.to_string()))?;
                self.secrets.set(&name, &Secret::new(json))?;
            }
            None => {
                self.secrets.delete(&name)?;
            }
        }
        self.store.set_sync_user(session.map(|s| s.user_id.as_str()), session.and_then(|s| s.email.as_deref()))?;
        *self.session.lock().await = Some(session.cloned());
        self.publish();
        Ok(())
    }

    /// An access token good for at least the refresh margin. `refused` is the token the
    /// server just turned down: it is refreshed even if it looks fresh.
    async fn token(&self, state: &SyncState, refused: Option<&str>) -> Result<String> {
        let mut slot = self.session.lock().await;
        let mut session = match slot.clone() {
            Some(s) => s,
            None => self.read_session(state)?,
        };
        let now = Timestamp::now().as_second();
        let stale = |s: &Session| s.expires_within(now, self.options.refresh_margin) || refused == Some(s.access_token.as_str());
        if session.as_ref().is_some_and(stale) {
            // Another process (the CLI beside a running server) may have refreshed already:
            // its rotated tokens are in the keychain.
            if let Some(stored) = self.read_session(state)?.filter(|s| !stale(s)) {
                session = Some(stored);
            }
        }
        let Some(mut current) = session else {
            *slot = Some(None);
            return Err(Error::NotSignedIn);
        };
        if stale(&current) {
            let Some(refresh_token) = current.refresh_token.clone() else {
                *slot = Some(Some(current));
                return Err(Error::Unauthorized { detail: "the access token expired and there is no refresh token".into() });
            };
            let auth = self.auth(state)?;
            self.count();
            let fresh = auth.refresh(&refresh_token).await?;
            tracing::info!(expires_at = ?fresh.expires_at, "refreshed the sync session");
            let json = serde_json::to_string(&fresh).map_err(|e| Error::Invalid(e.to_string()))?;
            self.secrets.set(&secret_name(&state.client_id), &Secret::new(json))?;
            current = fresh;
        }
        let token = current.access_token.clone();
        *slot = Some(Some(current));
        Ok(token)
    }

    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce(&Store) -> hearth_store::Result<T> + Send + 'static) -> Result<T> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| Error::Invalid(format!("a sync task failed: {e}")))?
            .map_err(Error::from)
    }

    /// One round now: push everything pending, then pull until caught up. Records the
    /// outcome (last error, or none) in the store.
    pub async fn sync_now(&self, progress: &mut (dyn FnMut(Progress) + Send)) -> Result<Round> {
        let _one = self.round_lock.lock().await;
        let result = self.round(progress).await;
        self.set_activity(Activity::Idle);
        match &result {
            Ok(_) => self.store.set_sync_error(None)?,
            Err(e) => {
                tracing::warn!(error = %e, "sync round failed");
                if !matches!(e, Error::NotConnected) {
                    self.store.set_sync_error(Some(&e.to_string()))?;
                }
            }
        }
        self.publish();
        result
    }

    async fn round(&self, progress: &mut (dyn FnMut(Progress) + Send)) -> Result<Round> {
        let state = self.state()?;
        let rest = self.rest(&state);
        let start = self.requests();
        let mut round = Round::default();

        // Push: whole transactions, oldest first, until the outbox is empty.
        loop {
            let batch = self.options.push_batch;
            let mut txs = self.blocking(move |s| s.read(|r| r.pending_transactions(batch))).await?;
            if txs.is_empty() {
                break;
            }
            txs.truncate(within_bytes(&txs, self.options.push_bytes));
            self.set_activity(Activity::Pushing);
            let token = self.token(&state, None).await?;
            self.count();
            let outcomes = match rest.push(&token, &state.client_id, &txs).await {
                Err(Error::Unauthorized { .. }) => {
                    let token = self.token(&state, Some(&token)).await?;
                    self.count();
                    rest.push(&token, &state.client_id, &txs).await?
                }
                other => other?,
            };
            let sent: Vec<i64> = txs.iter().map(|t| t.tx_seq).collect();
            let outcomes: Vec<(i64, TxOutcome)> = outcomes.into_iter().filter(|(seq, _)| sent.contains(seq)).collect();
            if outcomes.is_empty() {
                return Err(Error::Protocol("sync_push answered none of the transactions sent".into()));
            }
            round.pushed += outcomes.iter().filter(|(_, o)| !matches!(o, TxOutcome::Rejected { .. })).count() as u64;
            round.rejected += outcomes.iter().filter(|(_, o)| matches!(o, TxOutcome::Rejected { .. })).count() as u64;
            let refetch = self.blocking(move |s| s.acknowledge(&outcomes)).await?;
            self.refetch(&state, &rest, refetch).await?;
            let remaining = self.blocking(|s| s.read(|r| r.pending())).await?.transactions;
            progress(Progress::Pushed { transactions: round.pushed + round.rejected, remaining });
        }

        // Pull: pages after the cursor until the server says there is no more. While one page
        // is applied (on a blocking thread), the next is already being fetched from its `next`
        // cursor; it is only applied after the one before it, so the saved cursor never runs
        // ahead of the rows applied.
        self.set_activity(Activity::Pulling);
        // Rows kept aside by an older build may apply now (a cheap no-op when there are none).
        let retried = self.blocking(|s| s.retry_quarantined()).await?;
        if retried.inserted + retried.updated > 0 {
            tracing::info!(applied = retried.inserted + retried.updated, "sync: rows kept aside before apply now");
        }
        let mut page = self.pull_page(&state, &rest, self.state()?.cursor).await?;
        loop {
            let (rows, next, head, more) = (page.rows, page.next, page.head, page.has_more);
            round.pulled += rows.len() as u64;
            let version = next.version;
            let cursor = next.clone();
            let apply = self.blocking(move |s| s.apply_pull(&rows, Some(&next), head).map(|_| ()));
            let prefetch = async {
                match more {
                    true => Some(self.pull_page(&state, &rest, cursor).await),
                    false => None,
                }
            };
            let (applied, fetched) = tokio::join!(apply, prefetch);
            applied?;
            progress(Progress::Pulled { rows: round.pulled, version, head });
            match fetched {
                Some(fetched) => page = fetched?,
                None => break,
            }
        }
        // A row kept aside because what it names came later in the pull (a document whose
        // workspace was changed after it, so pulled after it) applies now, not a round later.
        if round.pulled > 0 {
            self.blocking(|s| s.retry_quarantined()).await?;
        }
        round.requests = self.requests() - start;
        Ok(round)
    }

    /// One pull page after `cursor`, refreshing the session once if the server refuses it.
    async fn pull_page(&self, state: &SyncState, rest: &Rest, cursor: hearth_store::Cursor) -> Result<crate::rest::Page> {
        let token = self.token(state, None).await?;
        self.count();
        match rest.pull(&token, &cursor, self.options.pull_page).await {
            Err(Error::Unauthorized { .. }) => {
                let token = self.token(state, Some(&token)).await?;
                self.count();
                rest.pull(&token, &cursor, self.options.pull_page).await
            }
            other => other,
        }
    }

    /// Reads the server's state of rows whose push was a duplicate and merges it.
    async fn refetch(&self, state: &SyncState, rest: &Rest, rows: Vec<(String, String)>) -> Result<()> {
        for table in hearth_store::synced_tables() {
            let ids: Vec<String> = rows.iter().filter(|(t, _)| t == table).map(|(_, id)| id.clone()).collect();
            for chunk in ids.chunks(100) {
                let token = self.token(state, None).await?;
                self.count();
                let fetched = rest.rows(&token, table, chunk).await?;
                self.blocking(move |s| s.apply_pull(&fetched, None, 0).map(|_| ())).await?;
            }
        }
        Ok(())
    }

    /// The background loop, until `stop` turns true. See the module docs for its schedule.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut failures: u32 = 0;
        let mut not_before: Option<Instant> = None;
        let mut last_remote: Option<Instant> = None;
        let mut kicked = true;
        let mut last_keychain_look = Instant::now();
        self.publish();
        loop {
            if *stop.borrow() {
                break;
            }
            let ready = match self.store.read(|r| Ok((r.sync_state()?, r.pending()?))) {
                Ok((Some(state), pending)) => match self.load_session(&state).await {
                    Ok(Some(_)) => Some(pending.changes > 0),
                    _ => None,
                },
                _ => None,
            };
            if let Some(has_changes) = ready {
                let now = Instant::now();
                let idle_due = last_remote.is_none_or(|t| now.duration_since(t) >= self.options.idle_interval);
                let waiting = not_before.is_some_and(|t| now < t);
                if !waiting && (has_changes || idle_due || kicked) {
                    kicked = false;
                    last_remote = Some(now);
                    // Read the session afresh for each round: another process (`hearth sync
                    // logout`, a login, a refresh) may have changed it in the keychain.
                    *self.session.lock().await = None;
                    match self.sync_now(&mut |_| {}).await {
                        Ok(_) => {
                            failures = 0;
                            not_before = None;
                        }
                        Err(e) => {
                            failures = failures.saturating_add(1);
                            let wait = backoff(&self.options, failures);
                            tracing::info!(error = %e, retry_in = ?wait, "sync backs off");
                            not_before = Some(Instant::now() + wait);
                            self.set_activity(Activity::BackingOff);
                        }
                    }
                }
            } else {
                self.set_activity(Activity::Stopped);
                // Another process (the CLI) may sign in meanwhile: look in the keychain again
                // now and then rather than trusting the cached "signed out".
                if last_keychain_look.elapsed() >= Duration::from_secs(5) {
                    *self.session.lock().await = None;
                    last_keychain_look = Instant::now();
                    kicked = true;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.options.local_poll) => {}
                _ = self.kick.notified() => { kicked = true; not_before = None; }
                _ = stop.changed() => {}
            }
        }
    }
}

/// How many of `txs`, from the first, fit in about `budget` bytes of changes: at least one.
fn within_bytes(txs: &[hearth_store::PendingTx], budget: usize) -> usize {
    let mut used = 0;
    for (i, tx) in txs.iter().enumerate() {
        used += tx.changes.iter().map(|c| c.patch.to_string().len()).sum::<usize>();
        if used > budget {
            return i.max(1);
        }
    }
    txs.len()
}

/// The wait before attempt `failures + 1`: doubling from the minimum up to the maximum, with
/// the upper half jittered so devices that went offline together do not return together.
pub(crate) fn backoff(options: &Options, failures: u32) -> Duration {
    // The clock's nanoseconds are random enough to spread devices apart.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let jitter = f64::from(nanos % 1000) / 1000.0;
    hearth_types::backoff(options.min_backoff, options.max_backoff, failures.saturating_sub(1), jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_takes_whole_transactions_up_to_its_byte_budget_and_always_one() {
        let tx = |seq: i64, bytes: usize| hearth_store::PendingTx {
            tx_seq: seq,
            tx_id: format!("tx{seq}"),
            changes: vec![hearth_store::OutboxRow {
                id: seq,
                tx_seq: seq,
                tx_id: format!("tx{seq}"),
                table: "documents".into(),
                row_id: "r".into(),
                patch: serde_json::json!({ "text": "x".repeat(bytes) }),
                created_at: hearth_types::Timestamp::UNIX_EPOCH,
            }],
        };
        let txs = [tx(1, 100), tx(2, 100), tx(3, 100)];
        assert_eq!(within_bytes(&txs, 1000), 3);
        assert_eq!(within_bytes(&txs, 250), 2, "the third would pass the budget");
        assert_eq!(within_bytes(&[tx(1, 5000), tx(2, 1)], 1000), 1, "one transaction goes even when it alone is larger");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        let options = Options { min_backoff: Duration::from_secs(1), max_backoff: Duration::from_secs(60), ..Options::default() };
        for (failures, base) in [(1, 1), (2, 2), (3, 4), (7, 60), (40, 60)] {
            let wait = backoff(&options, failures);
            let base = Duration::from_secs(base);
            assert!(wait >= base / 2 && wait <= base, "{failures}: {wait:?}");
        }
    }
}
