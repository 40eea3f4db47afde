//! [`Claims<T>`]: a principal's verified claims in a type of your own.

use serde::de::DeserializeOwned;

use crate::error::AuthError;
use crate::principal::Principal;

/// The principal's verified claims, deserialized into `T`. An extractor in
/// both adapters.
///
/// If the claims do not fit `T` the request is refused with 401
/// `invalid_token`: the token does not carry what this route needs.
#[derive(Debug, Clone)]
pub struct Claims<T>(pub T);

impl<T: DeserializeOwned> Claims<T> {
    /// Deserializes `principal`'s claims.
    pub fn from_principal(principal: &Principal) -> Result<Self, AuthError> {
        serde_json::from_str(principal.claims_json())
            .map(Claims)
            .map_err(|_| AuthError::InvalidToken("the token lacks claims this route needs"))
    }

    /// The claims of a request's principal, or the answer to give instead
    /// (anonymous → 401, refused, claims that do not fit → 401).
    #[cfg(any(feature = "axum", feature = "actix"))]
    pub(crate) fn from_outcome(outcome: &crate::outcome::AuthOutcome) -> Result<Self, crate::error::ErrorResponse> {
        let principal = outcome.require_principal()?;
        Self::from_principal(principal).map_err(|error| outcome.render(error))
    }
}
