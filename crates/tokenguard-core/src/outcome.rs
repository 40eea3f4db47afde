//! [`AuthOutcome`]: what authentication decided for one request, and
//! [`Mode`]: who answers a request that cannot pass.

use std::sync::Arc;

use crate::credential::Scheme;
use crate::error::{AuthError, Challenges, ErrorResponse};
use crate::observe;
use crate::principal::{Principal, PrincipalKind};
use crate::requirement::ScopeRequirement;

/// Who answers a request without valid credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// The layer: no credentials → 401 with challenges, invalid ones → their answer.
    #[default]
    Required,
    /// The layer refuses invalid credentials; requests without any pass anonymously.
    Optional,
    /// Nobody at the layer: the handler's extractors and guards answer as
    /// [`Mode::Required`] would (`Option<Principal>`: as [`Mode::Optional`]
    /// would), and routes that take none of them are public.
    Deferred,
}

/// What authentication decided for one request: a principal, anonymous,
/// or a refusal. Adapters put it into the request's extensions (the one
/// value they insert); extractors and scope guards answer from it, with
/// the challenges of the authenticator that decided.
///
/// Cheap to clone (shared). A service without extractors (plain tower)
/// reads the principal from it:
///
/// ```
/// use tokenguard_core::plumbing::AuthOutcome;
///
/// fn subject<B>(request: &http::Request<B>) -> Option<&str> {
///     request.extensions().get::<AuthOutcome>()?.principal().map(|principal| principal.subject())
/// }
/// ```
#[derive(Clone)]
pub struct AuthOutcome(Arc<Decided>);

struct Decided {
    verdict: Verdict,
    challenges: Arc<Challenges>,
}

enum Verdict {
    Authenticated { principal: Principal, scheme: Scheme },
    Anonymous,
    Refused { error: AuthError, scheme: Option<Scheme>, kind: Option<PrincipalKind> },
}

impl AuthOutcome {
    pub(crate) fn authenticated(principal: Principal, scheme: Scheme, challenges: &Arc<Challenges>) -> Self {
        Self::new(Verdict::Authenticated { principal, scheme }, challenges)
    }

    pub(crate) fn anonymous(challenges: &Arc<Challenges>) -> Self {
        Self::new(Verdict::Anonymous, challenges)
    }

    /// `kind`: what the credential looked like (`None`: unreadable).
    pub(crate) fn refused(
        error: AuthError,
        scheme: Option<Scheme>,
        kind: Option<PrincipalKind>,
        challenges: &Arc<Challenges>,
    ) -> Self {
        Self::new(Verdict::Refused { error, scheme, kind }, challenges)
    }

    fn new(verdict: Verdict, challenges: &Arc<Challenges>) -> Self {
        Self(Arc::new(Decided { verdict, challenges: challenges.clone() }))
    }

    /// The scheme the client used, if it presented a credential.
    pub(crate) fn scheme(&self) -> Option<Scheme> {
        match &self.0.verdict {
            Verdict::Authenticated { scheme, .. } => Some(*scheme),
            Verdict::Anonymous => None,
            Verdict::Refused { scheme, .. } => *scheme,
        }
    }

    /// Records what was decided in the metrics and in `span` (see the
    /// authenticator's `tokenguard.authenticate` span): never a credential.
    pub(crate) fn observe(&self, span: &tracing::Span) {
        match &self.0.verdict {
            Verdict::Authenticated { principal, .. } => observe::authentication(principal.kind().as_str(), "accepted"),
            Verdict::Anonymous => {}
            Verdict::Refused { error, kind, .. } => observe::refusal(*kind, error),
        }
        if span.is_disabled() {
            return;
        }
        span.record("scheme", self.scheme().map(Scheme::as_str));
        match &self.0.verdict {
            Verdict::Authenticated { principal, .. } => {
                span.record("outcome", "authenticated");
                span.record("kind", principal.kind().as_str());
                span.record("issuer", principal.issuer());
            }
            Verdict::Anonymous => {
                span.record("outcome", "anonymous");
            }
            Verdict::Refused { error, .. } => {
                span.record("outcome", "refused");
                span.record("reason", error.description());
            }
        }
    }

    /// The verified principal, if any.
    pub fn principal(&self) -> Option<&Principal> {
        match &self.0.verdict {
            Verdict::Authenticated { principal, .. } => Some(principal),
            _ => None,
        }
    }

    /// Why the presented credential was refused, if it was.
    pub fn error(&self) -> Option<&AuthError> {
        match &self.0.verdict {
            Verdict::Refused { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The answer a layer in `mode` gives at once, if it does not let the
    /// request through.
    pub fn answer(&self, mode: Mode) -> Option<ErrorResponse> {
        match (&self.0.verdict, mode) {
            (Verdict::Authenticated { .. }, _) | (_, Mode::Deferred) => None,
            (Verdict::Anonymous, Mode::Optional) => None,
            (Verdict::Anonymous, Mode::Required) => Some(self.render(AuthError::MissingCredentials)),
            (Verdict::Refused { error, .. }, _) => Some(self.render(error.clone())),
        }
    }

    /// The principal, for a handler that needs one: anonymous → 401, a
    /// refused credential → its own answer.
    pub fn require_principal(&self) -> Result<&Principal, ErrorResponse> {
        self.optional_principal()?.ok_or_else(|| self.render(AuthError::MissingCredentials))
    }

    /// The principal if the client presented a valid credential, `None` if
    /// it presented none; a refused credential is answered, never taken
    /// for anonymous.
    pub fn optional_principal(&self) -> Result<Option<&Principal>, ErrorResponse> {
        match &self.0.verdict {
            Verdict::Authenticated { principal, .. } => Ok(Some(principal)),
            Verdict::Anonymous => Ok(None),
            Verdict::Refused { error, .. } => Err(self.render(error.clone())),
        }
    }

    /// The principal if it meets `requirement`: anonymous → 401, a refused
    /// credential → its own answer, requirement not met → 403.
    pub fn check(&self, requirement: &ScopeRequirement) -> Result<&Principal, ErrorResponse> {
        let principal = self.require_principal()?;
        requirement.check(principal).map_err(|error| {
            observe::authentication(principal.kind().as_str(), "forbidden");
            self.render(error)
        })?;
        Ok(principal)
    }

    /// Renders `error` for this request: its challenge names the scheme the
    /// client used.
    pub fn render(&self, error: AuthError) -> ErrorResponse {
        error.to_response(&self.0.challenges, self.scheme())
    }
}

impl std::fmt::Debug for AuthOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0.verdict {
            Verdict::Authenticated { principal, scheme } => {
                f.debug_struct("Authenticated").field("principal", principal).field("scheme", scheme).finish()
            }
            Verdict::Anonymous => f.write_str("Anonymous"),
            Verdict::Refused { error, scheme, .. } => {
                f.debug_struct("Refused").field("error", error).field("scheme", scheme).finish()
            }
        }
    }
}
