//! The decision routes, for services and proxies that name the user:
//! `POST /protected` (the hot path), `POST /v1/check`, `POST /v1/checks`
//! (batched) and `/v1/forward-auth`; and the count of refusals they keep
//! for `GET /v1/admin/limited`.

use crate::http_api::AppState;
use crate::limiter::{Decision, Stamp};
use crate::policy::{Request, Verdict};

pub mod batch;
pub mod check;
pub mod forward_auth;
pub mod protected;

/// Counts `verdict` if an enforced rule refused `request` (a shadow rule
/// never refuses; a request no rule applies to is allowed).
#[inline]
pub(crate) fn note(state: &AppState, verdict: Option<&Verdict>, request: &Request<'_>, now: Stamp) {
    if let Some(verdict) = verdict.filter(|v| matches!(v.decision, Decision::Limited { .. })) {
        note_refused(state, verdict, request, now);
    }
}

/// Kept out of line: only refusals build the key and take the lock.
#[cold]
#[inline(never)]
fn note_refused(state: &AppState, verdict: &Verdict, request: &Request<'_>, now: Stamp) {
    let key = |buf: &mut String| verdict.write_bucket_key(request, buf);
    state.refusals.try_record(key, verdict.rule_name(), now);
}
