//! How much heavy work the server runs at once, and what ends it at shutdown.
//!
//! A [`Room`] has `max_in_flight` places (a semaphore). A request that runs a model (or is as
//! heavy: embeddings, a model load, a provider test, a sync round) takes a [`Slot`] before it
//! does anything, with `try_acquire`: past the limit the client is told to come back (429)
//! rather than queued without bound. The slot is held for as long as the work runs, so taking
//! it is the check; there is no gap between "is there room?" and "this one is running" for a
//! second request to slip through.
//!
//! Each slot carries a cancel token, a child of the server's `closing` token: a shutdown
//! cancels every piece of work in flight at once, and work that starts after it begins is
//! cancelled from the start (it still runs, to save itself as cancelled).

use std::sync::Arc;

use hearth_llm::CancellationToken;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// Places for `limit` pieces of heavy work.
#[derive(Debug)]
pub(crate) struct Room {
    places: Arc<Semaphore>,
    limit: usize,
    closing: CancellationToken,
}

impl Room {
    /// `closing` is the server's: cancelling it cancels every slot's token.
    pub(crate) fn new(limit: usize, closing: CancellationToken) -> Self {
        let limit = limit.max(1);
        Self { places: Arc::new(Semaphore::new(limit)), limit, closing }
    }

    /// A place for one piece of work, or `busy` (429) when all are taken.
    pub(crate) fn take(&self) -> Result<Slot, ApiError> {
        let permit = self.places.clone().try_acquire_owned().map_err(|_| busy(self.limit))?;
        Ok(Slot { _permit: permit, cancel: self.closing.child_token() })
    }
}

/// A place held. Dropping it (the work is done, or its client went away) cancels its token
/// and frees the place.
#[derive(Debug)]
pub(crate) struct Slot {
    _permit: OwnedSemaphorePermit,
    cancel: CancellationToken,
}

impl Slot {
    /// What cancels this piece of work: the server's shutdown, or the slot being dropped.
    pub(crate) fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// The answer when every place is taken.
pub(crate) fn busy(limit: usize) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        "busy",
        format!("{limit} model requests are already running; retry when some have finished"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_holds_its_place_until_dropped_and_shutdown_cancels_every_slot() {
        let closing = CancellationToken::new();
        let room = Room::new(2, closing.clone());
        let first = room.take().unwrap();
        let second = room.take().unwrap();
        assert_eq!(room.take().unwrap_err().object()["code"], "busy");
        let token = first.cancel_token();
        drop(first);
        assert!(token.is_cancelled(), "dropping a slot cancels its work");
        let third = room.take().unwrap();
        assert!(!second.cancel_token().is_cancelled());
        closing.cancel();
        assert!(second.cancel_token().is_cancelled() && third.cancel_token().is_cancelled());
        drop((second, third));
        assert!(room.take().unwrap().cancel_token().is_cancelled(), "work started after shutdown began is cancelled");
    }
}
