//! [`StaticApiKey`]: a long-lived key, sent the way the server expects.

use super::{Authorization, TokenError, TokenSource};
use crate::secret::Secret;

/// How the key is written into the `Authorization` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApiKeyForm {
    /// `Token token=KEY` (Rails).
    #[default]
    RailsToken,
    /// `Token KEY` (Django REST Framework).
    Token,
    /// `Bearer KEY`.
    Bearer,
}

/// An API key that never changes.
///
/// ```
/// use tokenguard_core::client::{ApiKeyForm, StaticApiKey};
/// use tokenguard_core::Secret;
///
/// let key = StaticApiKey::new(Secret::new("tg_example"), ApiKeyForm::Token).expect("a header-safe key");
/// ```
#[derive(Debug, Clone)]
pub struct StaticApiKey {
    value: Authorization,
}

impl StaticApiKey {
    /// Fails if the key cannot be put in a header.
    pub fn new(key: Secret, form: ApiKeyForm) -> Result<Self, TokenError> {
        let value = match form {
            ApiKeyForm::RailsToken => Authorization::new("Token", &format!("token={}", key.expose()))?,
            ApiKeyForm::Token => Authorization::new("Token", key.expose())?,
            ApiKeyForm::Bearer => Authorization::new("Bearer", key.expose())?,
        };
        Ok(Self { value })
    }
}

#[async_trait::async_trait]
impl TokenSource for StaticApiKey {
    async fn authorization(&self) -> Result<Authorization, TokenError> {
        Ok(self.value.clone())
    }

    fn invalidate(&self, _: &Authorization) {}
}
