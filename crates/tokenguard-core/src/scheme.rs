//! [`Scheme`]: the authentication schemes tokenguard understands.

use std::fmt;

/// An authentication scheme tokenguard understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `Authorization: Bearer …` (RFC 6750).
    Bearer,
    /// `Authorization: Token …` (Django REST Framework and Rails API keys).
    Token,
    /// `Authorization: DPoP …`: a DPoP-bound access token, with its proof in
    /// the `DPoP` header (RFC 9449 §7.1).
    DPoP,
}

impl Scheme {
    /// The scheme's canonical name, as used in challenges.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Bearer => "Bearer",
            Scheme::Token => "Token",
            Scheme::DPoP => "DPoP",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
