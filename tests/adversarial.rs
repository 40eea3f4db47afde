//! The adversarial corpus: what an attacker (or a broken client) sends, run
//! against each example server as a real process, with the testkit issuer,
//! an HS256 local issuer, introspection and API keys in a real SQLite file.
//!
//! Each case lists the outcomes the standards allow (status + error code);
//! where more than one is allowed, the case says why. Every answer is also
//! checked for hygiene: never a 500, a JSON body `{"error", "error_description"}`
//! on errors, a matching `WWW-Authenticate`, no credential echoed anywhere.
//! Both adapters must answer every (non-raw) case identically.

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::{Adapter, Reply, Server, TempDir, adapters, assert_no_secret, cli};
use serde_json::{Value, json};
use tokenguard_testkit::{INTROSPECTION_CLIENT_ID, INTROSPECTION_CLIENT_SECRET, KeyAlg, TestIssuer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HS256_SECRET: &str = "an-hs256-secret-of-at-least-32-bytes!";

/// An allowed answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Success with this status.
    Pass(u16),
    /// An RFC 6750 error: status and `error` code (`unauthorized` for a 401
    /// without credentials).
    Fail(u16, &'static str),
    /// Refused by the HTTP server before tokenguard sees it (any body).
    Http(u16),
}

use Outcome::{Fail, Http, Pass};

const OK: Outcome = Pass(200);
const INVALID: Outcome = Fail(401, "invalid_token");
const MALFORMED: Outcome = Fail(400, "invalid_request");
const NO_CREDENTIALS: Outcome = Fail(401, "unauthorized");
const SCOPE: Outcome = Fail(403, "insufficient_scope");

struct Case {
    group: &'static str,
    name: String,
    method: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, Vec<u8>)>,
    /// Sent over a raw socket (bytes an HTTP client library refuses to send).
    raw: bool,
    allowed: Vec<Outcome>,
    /// Why more than one outcome is allowed.
    why: &'static str,
}

impl Case {
    fn new(group: &'static str, name: impl Into<String>, authorization: impl AsRef<[u8]>, allowed: Outcome) -> Case {
        Case {
            group,
            name: name.into(),
            method: "GET",
            path: "/me",
            headers: vec![("authorization", authorization.as_ref().to_vec())],
            raw: false,
            allowed: vec![allowed],
            why: "",
        }
    }

    fn path(mut self, path: &'static str) -> Case {
        self.path = path;
        self
    }

    fn method(mut self, method: &'static str) -> Case {
        self.method = method;
        self
    }

    fn headers(mut self, headers: Vec<(&'static str, Vec<u8>)>) -> Case {
        self.headers = headers;
        self
    }

    fn raw(mut self) -> Case {
        self.raw = true;
        self
    }

    fn or(mut self, outcome: Outcome, why: &'static str) -> Case {
        self.allowed.push(outcome);
        self.why = if self.why.is_empty() { why } else { self.why };
        self
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn b64(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

/// A token from hand-written JSON, signed by `kid` of `issuer`.
fn hand_signed(issuer: &TestIssuer, kid: &str, header: &str, payload: &str) -> String {
    let signing_input = format!("{}.{}", b64(header), b64(payload));
    let signature = issuer.signature(kid, &signing_input).expect("published key");
    format!("{signing_input}.{signature}")
}

fn now() -> i64 {
    tokenguard_testkit::now()
}

/// Everything the corpus needs, made before the servers start.
struct World {
    issuer: TestIssuer,
    other: TestIssuer,
    rsa: String,
    es: String,
    ps: String,
    ed: String,
    keys: TempDir,
    store: String,
    api_key: String,
    revoked_key: String,
    expired_key: String,
}

/// Creates a key with the CLI: (key, id, expires_at or 0).
async fn create_key(store: &str, subject: &str, scope: &str, extra: &[&str]) -> (String, String, u64) {
    let mut args = vec!["keys", "create", "--store", store, "--subject", subject, "--scope", scope, "--json"];
    args.extend_from_slice(extra);
    let (code, out, err) = cli(&args).await;
    assert_eq!(code, 0, "{err}");
    let created: Value = serde_json::from_str(&out).expect("JSON");
    let key = created["key"].as_str().expect("key").to_owned();
    (key, created["id"].as_str().expect("id").to_owned(), created["expires_at"].as_u64().unwrap_or(0))
}

/// A key that expired a minute ago, written straight into the store: no
/// test waits for a credential to expire.
async fn insert_expired_key(store: &str) -> String {
    let key = tokenguard::apikey::generate("tg");
    let expired_at = tokenguard::time::Clock::system().unix_seconds() - 60;
    let scopes = tokenguard::Scopes::from_space_separated("read");
    let record = tokenguard::store::ApiKeyRecord::for_key(&key, "expired-service", scopes, None, Some(expired_at));
    let store = tokenguard::store::open(store).await.expect("the key store");
    store.insert(record, &tokenguard::store::ChangedBy::now("test")).await.expect("insert");
    key.expose().to_owned()
}

async fn world() -> World {
    let issuer = TestIssuer::start().await;
    let rsa = issuer.current_kid();
    let es = issuer.rotate(KeyAlg::Es256);
    let ps = issuer.rotate(KeyAlg::Ps256);
    let ed = issuer.rotate(KeyAlg::EdDsa);
    let rsa_jwk = issuer.public_jwk(&rsa).expect("rsa jwk");
    let es_jwk = issuer.public_jwk(&es).expect("es jwk");
    let with = |jwk: &Value, changes: Value| {
        let mut jwk = jwk.clone();
        for (name, value) in changes.as_object().expect("object") {
            jwk[name] = value.clone();
        }
        jwk
    };
    // Unusable keys published beside the good ones (kid names say which).
    issuer.publish_raw_jwk(json!({"kty": "oct", "kid": "oct-1", "alg": "HS256", "k": b64(HS256_SECRET)}));
    issuer.publish_raw_jwk(with(&rsa_jwk, json!({"kid": "enc-1", "use": "enc"})));
    issuer.publish_raw_jwk(with(&rsa_jwk, json!({"kid": "alg-none-1", "alg": "none"})));
    issuer.publish_raw_jwk(with(&es_jwk, json!({"kid": "mismatch-1", "alg": "RS256"})));
    issuer.publish_raw_jwk(with(&rsa_jwk, json!({"kid": "weak-1", "n": URL_SAFE_NO_PAD.encode([0xC3u8; 128])})));
    issuer.publish_raw_jwk(with(&rsa_jwk, json!({"kid": "e-one-1", "e": "AQ"})));
    issuer.publish_raw_jwk(json!({"kid": "no-kty-1", "n": rsa_jwk["n"], "e": rsa_jwk["e"]}));
    // A second key under the RSA key's kid: an EC key.
    issuer.publish_raw_jwk(with(&es_jwk, json!({"kid": rsa})));
    // Another issuer whose first key has the same kid as ours.
    let other = TestIssuer::start().await;
    assert_eq!(other.current_kid(), rsa, "kid collision across issuers");

    let keys = TempDir::new("adversarial");
    let store = format!("sqlite://{}", keys.0.join("keys.db").display());
    let (api_key, _, _) = create_key(&store, "corpus-service", "read", &[]).await;
    let (revoked_key, revoked_id, _) = create_key(&store, "revoked-service", "read", &[]).await;
    let (code, _, err) = cli(&["keys", "revoke", "--store", &store, &revoked_id]).await;
    assert_eq!(code, 0, "{err}");
    let expired_key = insert_expired_key(&store).await;
    World { issuer, other, rsa, es, ps, ed, keys, store, api_key, revoked_key, expired_key }
}

fn header_grammar(w: &World) -> Vec<Case> {
    let token = w.issuer.token().signed_by(&w.rsa).sign();
    let g = "header grammar";
    let huge = format!("Bearer {}", "a".repeat(300 * 1024));
    vec![
        Case::new(g, "lower-case scheme", format!("bearer {token}"), OK),
        Case::new(g, "upper-case scheme", format!("BEARER {token}"), OK),
        Case::new(g, "mixed-case scheme", format!("bEaReR {token}"), OK),
        Case::new(g, "two spaces after the scheme", format!("Bearer  {token}"), OK),
        Case::new(g, "tab after the scheme", format!("Bearer\t{token}"), MALFORMED)
            .or(NO_CREDENTIALS, "RFC 6750 §2.1 separates scheme and token with SP only; a tab leaves one unknown word"),
        Case::new(g, "trailing space", format!("Bearer {token} "), OK)
            .or(MALFORMED, "RFC 9110 §5.5 lets the HTTP server strip trailing whitespace, or not"),
        Case::new(g, "leading space", format!(" Bearer {token}"), OK)
            .or(MALFORMED, "RFC 9110 §5.5 lets the HTTP server strip leading whitespace, or not"),
        Case::new(g, "scheme only", "Bearer", MALFORMED),
        Case::new(g, "scheme and a space", "Bearer ", MALFORMED),
        Case::new(g, "two tokens", format!("Bearer {token} {token}"), MALFORMED),
        Case::new(g, "trailing comma", format!("Bearer {token},"), MALFORMED),
        Case::new(g, "quoted token", format!("Bearer \"{token}\""), MALFORMED),
        Case::new(g, "auth-param instead of a token", format!("Bearer access_token={token}"), MALFORMED).or(
            INVALID,
            "`access_token=x` is itself a valid b64token (`=` may end it), so it may be checked and refused",
        ),
        Case::new(g, "two credentials in one header", format!("Bearer {token}, Bearer {token}"), MALFORMED),
        Case::new(g, "non-ASCII (obs-text) in the token", b"Bearer abc\xe9def", MALFORMED),
        Case::new(g, "UTF-8 in the token", "Bearer t\u{f6}k\u{e9}n".as_bytes(), MALFORMED),
        Case::new(g, "percent-encoded token", format!("Bearer {}", token.replace('.', "%2E")), MALFORMED),
        Case::new(g, "a 20 KB token", format!("Bearer {}", "a".repeat(20 * 1024)), INVALID)
            .or(Http(431), "the HTTP server may cap header size first"),
        Case::new(g, "a 300 KB header", huge, Http(431))
            .or(Http(400), "HTTP servers refuse oversized headers with 431 or 400, or pass them on")
            .or(Http(401), "hyper accepts headers up to ~400 KB; tokenguard then refuses the over-16 KiB token")
            .raw(),
        Case::new(g, "NUL byte in the token", b"Bearer abc\x00def", Http(400)).raw(),
        Case::new(g, "control byte in the token", b"Bearer abc\x01def", Http(400)).raw(),
        Case::new(g, "DEL byte in the token", b"Bearer abc\x7fdef", Http(400))
            .or(MALFORMED, "DEL is not a field-vchar (RFC 9110 §5.5): the HTTP server or tokenguard refuses it")
            .raw(),
        Case::new(g, "Basic credentials", format!("Basic {}", STANDARD.encode("user:pass")), NO_CREDENTIALS),
        Case::new(g, "Digest credentials", "Digest username=\"u\", response=\"x\"", NO_CREDENTIALS),
        Case::new(g, "scheme glued to the token", format!("Bearer={token}"), NO_CREDENTIALS)
            .or(MALFORMED, "an unknown scheme word: no credential we accept, or a malformed one"),
        Case::new(g, "empty header", "", NO_CREDENTIALS).or(MALFORMED, "an empty field value carries no credential"),
        Case::new(g, "two Authorization headers", "", MALFORMED).headers(vec![
            ("authorization", bearer(&token).into_bytes()),
            ("authorization", bearer(&token).into_bytes()),
        ]),
        Case::new(g, "two headers, one empty", "", MALFORMED)
            .headers(vec![("authorization", bearer(&token).into_bytes()), ("authorization", Vec::new())]),
        Case::new(g, "token in Proxy-Authorization only", "", NO_CREDENTIALS)
            .headers(vec![("proxy-authorization", bearer(&token).into_bytes())]),
        Case::new(g, "token in a cookie only", "", NO_CREDENTIALS)
            .headers(vec![("cookie", format!("access_token={token}").into_bytes())]),
        Case::new(g, "token in the query string only", "", NO_CREDENTIALS)
            .headers(Vec::new())
            .path("/me?access_token=abc.def.ghi"),
        Case::new(g, "HEAD without credentials", "", NO_CREDENTIALS).headers(Vec::new()).method("HEAD"),
    ]
}

fn jose_structure(w: &World) -> Vec<Case> {
    let g = "JOSE structure";
    let valid = w.issuer.token().signed_by(&w.rsa).sign();
    let parts: Vec<&str> = valid.split('.').collect();
    let (h, p, s) = (parts[0], parts[1], parts[2]);
    let rsa = &w.rsa;
    let iss = w.issuer.issuer();
    let exp = now() + 3600;
    let payload = format!(r#"{{"iss":"{iss}","sub":"alice","aud":"tokenguard-example","exp":{exp}}}"#);
    let header = format!(r#"{{"alg":"RS256","kid":"{rsa}"}}"#);
    let signed = |header: &str, payload: &str| hand_signed(&w.issuer, rsa, header, payload);
    let twice =
        |evil: &str| payload.replacen(&format!(r#""iss":"{iss}""#), &format!(r#""iss":"{iss}","iss":{evil}"#), 1);
    let twice_last =
        |evil: &str| payload.replacen(&format!(r#""iss":"{iss}""#), &format!(r#""iss":{evil},"iss":"{iss}""#), 1);
    let deep = format!("{}1{}", "[".repeat(2000), "]".repeat(2000));
    vec![
        Case::new(g, "one segment", bearer("abcdef"), INVALID),
        Case::new(g, "two segments", bearer(&format!("{h}.{p}")), INVALID),
        Case::new(g, "four segments", bearer(&format!("{valid}.{s}")), INVALID),
        Case::new(g, "JWE-shaped (five segments)", bearer(&format!("{h}.{p}.{s}.{s}.{s}")), INVALID),
        Case::new(g, "empty segments", bearer(".."), INVALID),
        Case::new(g, "empty payload", bearer(&format!("{h}..{s}")), INVALID),
        Case::new(g, "standard base64 alphabet", bearer(&format!("{h}+/.{p}.{s}")), INVALID),
        Case::new(g, "padding inside", bearer(&format!("{h}==.{p}.{s}")), MALFORMED),
        Case::new(g, "padded signature", bearer(&format!("{h}.{p}.{s}==")), INVALID),
        Case::new(g, "header is an array", bearer(&signed("[1,2]", &payload)), INVALID),
        Case::new(g, "header is a string", bearer(&signed("\"RS256\"", &payload)), INVALID),
        Case::new(g, "header is not JSON", bearer(&signed("alg=RS256", &payload)), INVALID),
        Case::new(g, "payload is an array", bearer(&signed(&header, "[]")), INVALID),
        Case::new(g, "payload is not JSON", bearer(&signed(&header, "hello")), INVALID),
        Case::new(g, "payload nested 2000 deep", bearer(&signed(&header, &format!(r#"{{"x":{deep}}}"#))), INVALID),
        Case::new(
            g,
            "payload not UTF-8",
            bearer(&format!("{h}.{}.{s}", URL_SAFE_NO_PAD.encode([0xff, 0xfe, 0x7b]))),
            INVALID,
        ),
        Case::new(g, "BOM before the header", bearer(&signed(&format!("\u{feff}{header}"), &payload)), INVALID),
        Case::new(
            g,
            "duplicate alg in the header",
            bearer(&signed(&format!(r#"{{"alg":"RS256","alg":"none","kid":"{rsa}"}}"#), &payload)),
            INVALID,
        ),
        Case::new(
            g,
            "duplicate iss, ours first",
            bearer(&signed(&header, &twice(r#""https://evil.example""#))),
            INVALID,
        ),
        Case::new(
            g,
            "duplicate iss, ours last",
            bearer(&signed(&header, &twice_last(r#""https://evil.example""#))),
            INVALID,
        )
        .or(OK, "RFC 7519 §4 allows using the last of duplicate members, which is ours here"),
        Case::new(
            g,
            "a 6 KB unknown header parameter",
            bearer(&signed(&format!(r#"{{"alg":"RS256","kid":"{rsa}","x":"{}"}}"#, "p".repeat(6 * 1024)), &payload)),
            OK,
        )
        .or(INVALID, "unknown header parameters must be ignored (RFC 7515 §4), but a size cap may refuse them"),
        Case::new(
            g,
            "over 16 KiB",
            bearer(&signed(&header, &format!(r#"{{"x":"{}"}}"#, "p".repeat(17 * 1024)))),
            INVALID,
        ),
        Case::new(g, "a valid token (control)", bearer(&valid), OK),
    ]
}

fn algorithm_attacks(w: &World) -> Vec<Case> {
    let g = "algorithm attacks";
    let issuer = &w.issuer;
    let unsigned = |alg: &str| issuer.token().header("alg", alg).header("kid", w.rsa.as_str()).with_signature("");
    let pem = issuer.public_key_pem(&w.rsa).expect("pem");
    let jwk = issuer.public_jwk(&w.rsa).expect("jwk");
    let rsa_signed = issuer.token().signed_by(&w.rsa).sign();
    let rsa_signature = rsa_signed.rsplit('.').next().expect("signature").to_owned();
    let other = w.other.token().claim("iss", issuer.issuer()).sign();
    let mut cases = Vec::new();
    for alg in ["none", "None", "NONE", "nOnE"] {
        cases.push(Case::new(g, format!("alg {alg}"), bearer(&unsigned(alg)), INVALID));
    }
    cases.extend([
        Case::new(
            g,
            "alg none with a real signature",
            bearer(&format!("{}{rsa_signature}", unsigned("none"))),
            INVALID,
        ),
        Case::new(
            g,
            "HS256 keyed with the public PEM",
            bearer(&issuer.token().header("kid", w.rsa.as_str()).sign_hs256(pem.as_bytes())),
            INVALID,
        ),
        Case::new(
            g,
            "HS384 keyed with the public PEM",
            bearer(&issuer.token().header("kid", w.rsa.as_str()).header("alg", "HS384").sign_hs256(pem.as_bytes())),
            INVALID,
        ),
        Case::new(
            g,
            "HS256 keyed with the JWK's n",
            bearer(&issuer.token().header("kid", w.rsa.as_str()).sign_hs256(jwk["n"].as_str().expect("n").as_bytes())),
            INVALID,
        ),
        Case::new(
            g,
            "HS256 keyed with the JWK JSON",
            bearer(&issuer.token().header("kid", w.rsa.as_str()).sign_hs256(jwk.to_string().as_bytes())),
            INVALID,
        ),
        Case::new(
            g,
            "RS256 header on a PS256 signature",
            bearer(&issuer.token().signed_by(&w.ps).header("alg", "RS256").sign()),
            INVALID,
        ),
        Case::new(
            g,
            "PS256 header on an RS256 signature",
            bearer(&issuer.token().signed_by(&w.rsa).header("alg", "PS256").sign()),
            INVALID,
        ),
        Case::new(
            g,
            "RS256 header on an ES256 key",
            bearer(&issuer.token().signed_by(&w.es).header("alg", "RS256").sign()),
            INVALID,
        ),
        Case::new(
            g,
            "ES384 header on an ES256 key",
            bearer(&issuer.token().signed_by(&w.es).header("alg", "ES384").sign()),
            INVALID,
        ),
        Case::new(
            g,
            "ES256 header on an EdDSA key",
            bearer(&issuer.token().signed_by(&w.ed).header("alg", "ES256").sign()),
            INVALID,
        ),
        Case::new(
            g,
            "Ed25519 (RFC 9864 name) header",
            bearer(&issuer.token().signed_by(&w.ed).header("alg", "Ed25519").sign()),
            INVALID,
        )
        .or(OK, "RFC 9864 registers Ed25519 as a fully-specified name for the same signature"),
        Case::new(
            g,
            "alg with a trailing space",
            bearer(&issuer.token().signed_by(&w.rsa).header("alg", "RS256 ").sign()),
            INVALID,
        ),
        Case::new(
            g,
            "alg missing",
            bearer(&issuer.token().signed_by(&w.rsa).header("alg", Value::Null).sign()),
            INVALID,
        ),
        Case::new(g, "alg is a number", bearer(&issuer.token().signed_by(&w.rsa).header("alg", 256).sign()), INVALID),
        Case::new(g, "empty signature", bearer(&format!("{}.", rsa_signed.rsplit_once('.').expect("dot").0)), INVALID),
        Case::new(g, "another issuer's key with the same kid", bearer(&other), INVALID),
        Case::new(
            g,
            "signature of another token",
            bearer(&format!(
                "{}.{rsa_signature}",
                issuer.token().subject("mallory").signed_by(&w.rsa).sign().rsplit_once('.').expect("dot").0
            )),
            INVALID,
        ),
        Case::new(g, "ES256 (control)", bearer(&issuer.token().signed_by(&w.es).sign()), OK),
        Case::new(g, "PS256 (control)", bearer(&issuer.token().signed_by(&w.ps).sign()), OK),
        Case::new(g, "EdDSA (control)", bearer(&issuer.token().signed_by(&w.ed).sign()), OK),
    ]);
    cases
}

fn header_parameters(w: &World) -> Vec<Case> {
    let g = "header parameters";
    let issuer = &w.issuer;
    let attacker = &w.other;
    let attacker_kid = "attacker-key";
    let foreign = |name: &str, value: Value| {
        attacker.token().claim("iss", issuer.issuer()).header("kid", attacker_kid).header(name, value).sign()
    };
    let ours = |name: &str, value: Value| issuer.token().signed_by(&w.rsa).header(name, value).sign();
    let jwk = attacker.public_jwk(&attacker.current_kid()).expect("jwk");
    vec![
        Case::new(g, "jku to the attacker's keys", bearer(&foreign("jku", json!(attacker.jwks_uri()))), INVALID),
        Case::new(
            g,
            "x5u to the attacker's certificate",
            bearer(&foreign("x5u", json!(format!("{}/cert.pem", attacker.issuer())))),
            INVALID,
        ),
        Case::new(g, "embedded jwk of the attacker", bearer(&foreign("jwk", jwk)), INVALID),
        Case::new(g, "x5c of the attacker", bearer(&foreign("x5c", json!(["MIIB"]))), INVALID),
        Case::new(g, "crit naming exp", bearer(&ours("crit", json!(["exp"]))), INVALID),
        Case::new(g, "crit empty", bearer(&ours("crit", json!([]))), INVALID),
        Case::new(g, "crit unknown extension", bearer(&ours("crit", json!(["urn:x"]))), INVALID),
        Case::new(g, "kid path traversal", bearer(&ours("kid", json!("../../../../etc/passwd"))), INVALID),
        Case::new(g, "kid SQL-looking", bearer(&ours("kid", json!("' OR '1'='1"))), INVALID),
        Case::new(g, "kid 4 KB", bearer(&ours("kid", json!("k".repeat(4096)))), INVALID),
        Case::new(g, "kid a number", bearer(&ours("kid", json!(1))), INVALID),
        Case::new(g, "kid missing", bearer(&ours("kid", Value::Null)), INVALID)
            .or(OK, "without a kid, a verifier may try the issuer's keys for the algorithm (RFC 7515 §4.1.4)"),
        Case::new(g, "typ JWT", bearer(&ours("typ", json!("JWT"))), OK),
        Case::new(g, "typ application/at+jwt", bearer(&ours("typ", json!("application/at+jwt"))), OK),
        Case::new(g, "typ dpop+jwt", bearer(&ours("typ", json!("dpop+jwt"))), INVALID),
        Case::new(g, "typ logout+jwt", bearer(&ours("typ", json!("logout+jwt"))), INVALID),
        Case::new(g, "typ a number", bearer(&ours("typ", json!(1))), INVALID),
    ]
}

fn token_kinds(w: &World) -> Vec<Case> {
    let g = "token-kind confusion";
    let issuer = &w.issuer;
    let t = || issuer.token().signed_by(&w.rsa);
    vec![
        Case::new(g, "ID token for our client id", bearer(&t().header("typ", "JWT").claim("nonce", "n-0S6_WzA2Mj").claim("at_hash", "77QmUPtjPfzWtF2AnpK9RQ").claim("scope", Value::Null).sign()), OK)
            .or(INVALID, "an ID token whose aud names this API and whose typ is JWT looks like an access token unless TypPolicy::AccessTokenJwt is set (RFC 9068 §4)"),
        Case::new(g, "Keycloak refresh token shape", bearer(&t().header("typ", "JWT").claim("typ", "Refresh").sign()), INVALID),
        Case::new(g, "Keycloak ID token shape", bearer(&t().header("typ", "JWT").claim("typ", "ID").sign()), INVALID),
        Case::new(g, "Cognito ID token shape", bearer(&t().claim("token_use", "id").sign()), INVALID),
        Case::new(g, "logout token shape", bearer(&t().header("typ", "logout+jwt").claim("events", json!({"http://schemas.openid.net/event/backchannel-logout": {}})).sign()), INVALID),
        Case::new(g, "DPoP proof shape", bearer(&t().header("typ", "dpop+jwt").claim("htm", "GET").claim("htu", "http://x/me").sign()), INVALID),
        Case::new(g, "our key, another issuer", bearer(&t().claim("iss", "https://evil.example").sign()), INVALID),
        Case::new(g, "our key, the local HS256 issuer", bearer(&t().claim("iss", "tokenguard-local").sign()), INVALID),
        Case::new(g, "local HS256 secret, the OIDC issuer", bearer(&issuer.token().sign_hs256(HS256_SECRET.as_bytes())), INVALID),
        Case::new(g, "local HS256 (control)", bearer(&issuer.token().claim("iss", "tokenguard-local").sign_hs256(HS256_SECRET.as_bytes())), OK),
    ]
}

fn time_claims(w: &World) -> Vec<Case> {
    let g = "time claims";
    let t = |name: &str, value: Value| bearer(&w.issuer.token().signed_by(&w.rsa).claim(name, value).sign());
    let n = now();
    vec![
        Case::new(g, "exp as a string", t("exp", json!((n + 3600).to_string())), INVALID),
        Case::new(g, "exp as a boolean", t("exp", json!(true)), INVALID),
        Case::new(g, "exp null", t("exp", Value::Null), INVALID),
        Case::new(g, "exp negative", t("exp", json!(-1)), INVALID),
        Case::new(g, "exp 1e300", t("exp", json!(1e300)), INVALID).or(
            OK,
            "a NumericDate far in the future is well-formed (RFC 7519 §2); refusing absurd values is also safe",
        ),
        Case::new(g, "exp fractional, in the future", t("exp", json!(n as f64 + 3600.5)), OK),
        Case::new(g, "exp an hour ago", t("exp", json!(n - 3600)), INVALID),
        Case::new(g, "exp 10 s ago (inside the 30 s leeway)", t("exp", json!(n - 10)), OK),
        Case::new(g, "exp 60 s ago (outside the leeway)", t("exp", json!(n - 60)), INVALID),
        Case::new(g, "nbf 10 s ahead (inside the leeway)", t("nbf", json!(n + 10)), OK),
        Case::new(g, "nbf an hour ahead", t("nbf", json!(n + 3600)), INVALID),
        Case::new(g, "nbf as a string", t("nbf", json!(n.to_string())), INVALID),
        Case::new(g, "iat an hour ahead", t("iat", json!(n + 3600)), INVALID),
        Case::new(g, "iat as an object", t("iat", json!({"t": n})), INVALID),
        Case::new(g, "iat missing", t("iat", Value::Null), OK),
    ]
}

fn issuer_and_audience(w: &World) -> Vec<Case> {
    let g = "iss and aud";
    let t = |name: &str, value: Value| bearer(&w.issuer.token().signed_by(&w.rsa).claim(name, value).sign());
    let iss = w.issuer.issuer();
    vec![
        Case::new(g, "iss with a trailing slash", t("iss", json!(format!("{iss}/"))), INVALID),
        Case::new(g, "iss upper-cased", t("iss", json!(iss.to_uppercase())), INVALID),
        Case::new(g, "iss as an array", t("iss", json!([iss])), INVALID),
        Case::new(g, "iss missing", t("iss", Value::Null), INVALID),
        Case::new(g, "iss as a number", t("iss", json!(1)), INVALID),
        Case::new(g, "iss with a trailing space", t("iss", json!(format!("{iss} "))), INVALID),
        Case::new(g, "aud array with ours", t("aud", json!(["other", "tokenguard-example"])), OK),
        Case::new(g, "aud array without ours", t("aud", json!(["other", "more"])), INVALID),
        Case::new(g, "aud empty array", t("aud", json!([])), INVALID),
        Case::new(g, "aud upper-cased", t("aud", json!("TOKENGUARD-EXAMPLE")), INVALID),
        Case::new(g, "aud with a trailing space", t("aud", json!("tokenguard-example ")), INVALID),
        Case::new(g, "aud missing", t("aud", Value::Null), INVALID),
        Case::new(g, "aud as a number", t("aud", json!(7)), INVALID),
        Case::new(g, "aud as an object", t("aud", json!({"aud": "tokenguard-example"})), INVALID),
        Case::new(g, "sub missing", t("sub", Value::Null), INVALID),
        Case::new(g, "sub as a number", t("sub", json!(42)), INVALID),
    ]
}

fn scopes(w: &World) -> Vec<Case> {
    let g = "scopes";
    let t = |name: &str, value: Value| bearer(&w.issuer.token().signed_by(&w.rsa).claim(name, value).sign());
    let read = |name: &str, value: Value, outcome: Outcome| {
        Case::new(g, format!("{name}={value} on /recordings"), t(name, value), outcome).path("/recordings")
    };
    vec![
        read("scope", json!("read  write"), OK),
        read("scope", json!(" read"), OK),
        read("scope", json!("reader"), SCOPE),
        read("scope", json!("rea"), SCOPE),
        read("scope", json!("READ"), SCOPE),
        read("scope", json!("read,write"), SCOPE),
        read("scope", json!("read\twrite"), SCOPE),
        read("scope", json!("admin"), SCOPE),
        read("scope", json!(""), SCOPE),
        read("scp", json!(["read"]), OK),
        read("scp", json!("read write"), OK),
        read("scp", json!([1]), INVALID),
        read("scope", json!(["read"]), INVALID),
        read("scope", json!(7), INVALID),
    ]
}

fn jwks_contents(w: &World) -> Vec<Case> {
    let g = "JWKS contents";
    let issuer = &w.issuer;
    let as_kid = |kid: &str| bearer(&issuer.token().signed_by(&w.rsa).header("kid", kid).sign());
    vec![
        Case::new(g, "an oct key's kid, HS256 with its secret", bearer(&issuer.token().header("kid", "oct-1").sign_hs256(HS256_SECRET.as_bytes())), INVALID),
        Case::new(g, "an encryption key (use enc)", as_kid("enc-1"), INVALID),
        Case::new(g, "a key whose alg is none", as_kid("alg-none-1"), INVALID),
        Case::new(g, "an EC key labelled RS256", bearer(&issuer.token().signed_by(&w.es).header("kid", "mismatch-1").sign()), INVALID),
        Case::new(g, "a 1024-bit RSA key", as_kid("weak-1"), INVALID),
        Case::new(g, "an RSA key with e = 1", as_kid("e-one-1"), INVALID),
        Case::new(g, "a key without kty", as_kid("no-kty-1"), INVALID),
        Case::new(g, "a kid shared by an RSA and an EC key", as_kid(&w.rsa), OK)
            .or(INVALID, "RFC 7517 §4.5 says kids should be distinct; choosing the key by kid and algorithm, or refusing, are both safe"),
    ]
}

fn api_keys(w: &World) -> Vec<Case> {
    let g = "API keys";
    let key = &w.api_key;
    let flipped = {
        let mut bytes = key.clone().into_bytes();
        let last = bytes.len() - 1;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).expect("ASCII")
    };
    let body = &key[3..];
    vec![
        Case::new(g, "Bearer", bearer(key), OK),
        Case::new(g, "Token (DRF)", format!("Token {key}"), OK),
        Case::new(g, "Token token= (Rails)", format!("Token token={key}"), OK),
        Case::new(g, "Token token=\"…\" with another param", format!("Token token=\"{key}\", nonce=\"abc\""), OK),
        Case::new(g, "lower-case token scheme", format!("token {key}"), OK),
        Case::new(g, "checksum flipped", format!("Token {flipped}"), INVALID),
        Case::new(g, "truncated", format!("Token {}", &key[..key.len() - 4]), INVALID),
        Case::new(g, "another prefix", format!("Token xx_{body}"), INVALID),
        Case::new(g, "upper-case prefix", format!("Token TG_{body}"), INVALID),
        Case::new(g, "with padding", format!("Token {key}=="), INVALID),
        Case::new(g, "revoked", format!("Token {}", w.revoked_key), INVALID),
        Case::new(g, "expired", format!("Token {}", w.expired_key), INVALID),
        Case::new(g, "read key on a write route", format!("Token {key}"), SCOPE).path("/recordings").method("POST"),
        Case::new(g, "Token token= without a value", "Token token=", MALFORMED),
        Case::new(g, "Token token=\"\"", "Token token=\"\"", MALFORMED),
        Case::new(g, "Token with an unbalanced quote", format!("Token token=\"{key}"), MALFORMED),
        Case::new(g, "Token scheme alone", "Token", MALFORMED),
        Case::new(g, "key in the query string only", "", NO_CREDENTIALS).headers(Vec::new()).path("/me?api_key=tg_x"),
    ]
}

fn introspection(w: &World) -> Vec<Case> {
    let g = "introspection";
    let issuer = &w.issuer;
    let revoked = issuer.token().opaque();
    issuer.revoke(&revoked);
    vec![
        Case::new(g, "active opaque token", bearer(&issuer.token().opaque()), OK),
        Case::new(g, "unknown opaque token", bearer("Zm9vYmFyYmF6cXV4cXV1eGZvb2JhcmJhenF1eHF1dXg"), INVALID),
        Case::new(g, "revoked opaque token", bearer(&revoked), INVALID),
        Case::new(g, "expired opaque token", bearer(&issuer.token().expires_in(-5).opaque()), INVALID),
        Case::new(
            g,
            "opaque token for another audience",
            bearer(&issuer.token().audience("another-api").opaque()),
            INVALID,
        ),
        Case::new(
            g,
            "opaque token of another issuer",
            bearer(&issuer.token().claim("iss", "https://evil.example").opaque()),
            INVALID,
        ),
        Case::new(
            g,
            "opaque refresh token",
            bearer(&issuer.token().claim("token_type", "refresh_token").opaque()),
            INVALID,
        ),
        Case::new(
            g,
            "opaque DPoP-bound token",
            bearer(
                &issuer.token().claim("cnf", json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"})).opaque(),
            ),
            INVALID,
        ),
        Case::new(g, "opaque token, scope read on /admin", bearer(&issuer.token().scope("read").opaque()), SCOPE)
            .path("/admin"),
        Case::new(g, "opaque token in the Token scheme", format!("Token {}", issuer.token().opaque()), INVALID),
    ]
}

fn optional_auth(w: &World) -> Vec<Case> {
    let g = "optional authentication";
    let valid = w.issuer.token().signed_by(&w.rsa).sign();
    let greeting = |name: &str, auth: String, outcome: Outcome| Case::new(g, name, auth, outcome).path("/greeting");
    vec![
        greeting("valid token", bearer(&valid), OK),
        greeting(
            "expired token is never anonymous",
            bearer(&w.issuer.token().signed_by(&w.rsa).expires_in(-3600).sign()),
            INVALID,
        ),
        greeting("malformed header", "Bearer a b".into(), MALFORMED),
        greeting("Basic is no credential", format!("Basic {}", STANDARD.encode("u:p")), OK),
        greeting("revoked API key is never anonymous", format!("Token {}", w.revoked_key), INVALID),
        Case::new(g, "no credentials", "", OK).headers(Vec::new()).path("/greeting"),
    ]
}

fn corpus(w: &World) -> Vec<Case> {
    [
        header_grammar(w),
        jose_structure(w),
        algorithm_attacks(w),
        header_parameters(w),
        token_kinds(w),
        time_claims(w),
        issuer_and_audience(w),
        scopes(w),
        jwks_contents(w),
        api_keys(w),
        introspection(w),
        optional_auth(w),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Sends `case` over a raw socket and returns the status (bytes an HTTP
/// client library refuses to put in a header).
async fn raw_status(server: &Server, case: &Case) -> u16 {
    let addr = server.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut request =
        format!("{} {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n", case.method, case.path).into_bytes();
    for (name, value) in &case.headers {
        request.extend_from_slice(name.as_bytes());
        request.extend_from_slice(b": ");
        request.extend_from_slice(value);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    // The server may answer and close before reading everything.
    let _ = stream.write_all(&request).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await;
    let text = String::from_utf8_lossy(&response);
    text.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0)
}

fn judge(case: &Case, reply: &Reply) -> Result<(), String> {
    let mut problems = Vec::new();
    let matched = case.allowed.iter().find(|outcome| match outcome {
        Pass(status) | Http(status) => reply.status == *status,
        // A HEAD answer has no body to name the error.
        Fail(status, code) => reply.status == *status && (case.method == "HEAD" || reply.json()["error"] == *code),
    });
    match matched {
        None => problems.push(format!(
            "answered {} {} (allowed: {:?})",
            reply.status,
            reply.json()["error"].as_str().unwrap_or(""),
            case.allowed
        )),
        Some(Fail(..)) if case.method == "HEAD" => {
            if !reply.text.is_empty() || reply.www_authenticate.is_empty() {
                problems.push(format!("HEAD answered {:?} with body {:?}", reply.www_authenticate, reply.text));
            }
        }
        Some(Fail(_, code)) => {
            let body = reply.json();
            let keys: Vec<&String> = body.as_object().map(|o| o.keys().collect()).unwrap_or_default();
            if keys != ["error", "error_description"] || !body["error_description"].is_string() {
                problems.push(format!("body {}", reply.text));
            }
            if reply.content_type.as_deref() != Some("application/json") {
                problems.push(format!("content-type {:?}", reply.content_type));
            }
            let challenge_ok = match *code {
                "unauthorized" => {
                    !reply.www_authenticate.is_empty() && reply.www_authenticate.iter().all(|c| !c.contains("error="))
                }
                code => {
                    reply.www_authenticate.len() == 1
                        && reply.www_authenticate[0].contains(&format!("error=\"{code}\""))
                }
            };
            if !challenge_ok {
                problems.push(format!("WWW-Authenticate {:?}", reply.www_authenticate));
            }
        }
        Some(_) => {}
    }
    if reply.status >= 500 {
        problems.push(format!("server error {}", reply.status));
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
}

/// The credential-looking parts of a case, to search answers and logs for.
fn secrets_of(cases: &[Case]) -> Vec<String> {
    let mut secrets: Vec<String> = cases
        .iter()
        .flat_map(|case| case.headers.iter())
        .filter_map(|(_, value)| std::str::from_utf8(value).ok())
        .filter_map(|value| value.split([' ', '=', '"', ',']).rfind(|part| part.len() >= 24))
        .map(|part| part.rsplit('.').next().unwrap_or(part).to_owned())
        .filter(|part| part.len() >= 24 && !part.chars().all(|c| c == part.chars().next().unwrap_or('a')))
        .collect();
    secrets.sort();
    secrets.dedup();
    secrets
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adversarial_corpus_holds_on_every_adapter() {
    let w = world().await;
    let cases = corpus(&w);
    assert!(cases.len() >= 120, "only {} cases", cases.len());
    let mut secrets = secrets_of(&cases);
    assert!(secrets.len() >= 100, "only {} credentials to search for", secrets.len());
    secrets.extend([HS256_SECRET.to_owned(), INTROSPECTION_CLIENT_SECRET.to_owned(), w.api_key.clone()]);
    let env = [
        ("TOKENGUARD_ISSUER", w.issuer.issuer()),
        ("TOKENGUARD_HS256_SECRET", HS256_SECRET),
        ("TOKENGUARD_KEY_STORE", w.store.as_str()),
        ("TOKENGUARD_INTROSPECTION_CLIENT_ID", INTROSPECTION_CLIENT_ID),
        ("TOKENGUARD_INTROSPECTION_SECRET", INTROSPECTION_CLIENT_SECRET),
    ];
    let mut answers: Vec<(Adapter, Vec<Option<Reply>>)> = Vec::new();
    for adapter in adapters() {
        let server = Server::start(adapter, &env).await;
        let mut failures = Vec::new();
        let mut replies = Vec::new();
        for case in &cases {
            if case.raw {
                let status = raw_status(&server, case).await;
                let reply = Reply {
                    status,
                    www_authenticate: Vec::new(),
                    retry_after: None,
                    content_type: None,
                    allow: None,
                    text: String::new(),
                };
                if let Err(problem) = judge(case, &reply) {
                    failures.push(format!("[{adapter:?}] {} / {}: {problem}", case.group, case.name));
                }
                replies.push(None);
                continue;
            }
            let headers: Vec<(&str, &[u8])> = case.headers.iter().map(|(n, v)| (*n, v.as_slice())).collect();
            let reply = server.request(case.method, case.path, &headers, None).await;
            if case.allowed.len() > 1 && adapter == Adapter::Axum {
                println!("two outcomes allowed: {} → {} ({})", case.name, reply.status, case.why);
            }
            if let Err(problem) = judge(case, &reply) {
                failures.push(format!("[{adapter:?}] {} / {}: {problem}", case.group, case.name));
            }
            assert_no_secret(&format!("{:?}{}", reply.www_authenticate, reply.text), &secrets, &case.name);
            replies.push(Some(reply));
        }
        assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
        println!("{adapter:?}: all {} corpus cases hold", cases.len());
        assert_no_secret(&server.logs(), &secrets, &format!("{adapter:?} logs"));
        answers.push((adapter, replies));
    }
    if let Some(((first, reference), others)) = answers.split_first() {
        for (adapter, replies) in others {
            for ((case, a), b) in cases.iter().zip(reference).zip(replies) {
                let (Some(a), Some(b)) = (a, b) else { continue };
                let same = (a.status, &a.www_authenticate, a.json()) == (b.status, &b.www_authenticate, b.json());
                assert!(same, "{}: {first:?} answered {a:?}, {adapter:?} answered {b:?}", case.name);
            }
        }
    }
    drop(w.keys);
}
