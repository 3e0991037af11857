//! Why a caller could not be identified: a typed error with a stable machine
//! code (for the JSON body of a 401) and a human message saying which.

use thiserror::Error;

/// A missing or invalid credential. [`code`](IdentityError::code) is stable;
/// the message may change. No message ever contains a credential.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum IdentityError {
    /// None of the route's methods found its credential.
    #[error("no credential: send {expected}")]
    MissingCredential {
        /// The credentials the route accepts, in order, in words.
        expected: String,
    },
    /// A credential that is not even well-formed (a token that is not a JWT,
    /// a header sent twice, bytes that are not visible ASCII).
    #[error("malformed {credential}: {reason}")]
    Malformed {
        /// Which credential: a header name or "bearer token".
        credential: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The token's `exp` has passed (beyond the leeway).
    #[error("the token expired {ago_secs} s ago")]
    Expired {
        /// Seconds since `exp`.
        ago_secs: u64,
    },
    /// The token's `nbf` lies in the future (beyond the leeway).
    #[error("the token is not valid for another {in_secs} s")]
    NotYetValid {
        /// Seconds until `nbf`.
        in_secs: u64,
    },
    /// The token's signature does not verify with its key.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// The key is not known: a `kid` not in the JWKS, or an API key not on file.
    #[error("{0}")]
    UnknownKey(String),
    /// `iss` missing or not one of the accepted issuers.
    #[error("the token's issuer (iss) is not accepted")]
    BadIssuer,
    /// `aud` missing or naming none of the accepted audiences.
    #[error("the token's audience (aud) is not accepted")]
    BadAudience,
    /// A claim (or the trusted header) that must name a user, plan or tenant
    /// is missing or is not an ID (1–256 bytes of visible ASCII).
    #[error("`{claim}` {reason}")]
    BadClaim {
        /// The claim or header.
        claim: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `alg: none`, or an algorithm this route is not configured for.
    #[error("algorithm {0} is not allowed")]
    AlgorithmNotAllowed(String),
}

impl IdentityError {
    /// The stable machine code, e.g. `expired`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingCredential { .. } => "missing_credential",
            Self::Malformed { .. } => "malformed_token",
            Self::Expired { .. } => "expired",
            Self::NotYetValid { .. } => "not_yet_valid",
            Self::BadSignature => "bad_signature",
            Self::UnknownKey(_) => "unknown_key",
            Self::BadIssuer => "bad_issuer",
            Self::BadAudience => "bad_audience",
            Self::BadClaim { .. } => "bad_claim",
            Self::AlgorithmNotAllowed(_) => "algorithm_not_allowed",
        }
    }

    pub(super) fn malformed(credential: &'static str, reason: impl ToString) -> Self {
        Self::Malformed {
            credential,
            reason: reason.to_string(),
        }
    }

    pub(super) fn claim(claim: &str, reason: impl ToString) -> Self {
        Self::BadClaim {
            claim: claim.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// A value from a request echoed in a message: shown only if it is short
/// visible ASCII, so a message never carries a flood or control bytes.
pub(super) fn shown(value: &str) -> String {
    if value.len() <= 64 && value.bytes().all(|b| b.is_ascii_graphic()) {
        format!("\"{value}\"")
    } else {
        "(not shown)".to_string()
    }
}
