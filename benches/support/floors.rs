//! What the verification benches share: a test issuer, a token it signed,
//! an authenticator that verifies it with the verified-token cache off, and
//! the floors tokenguard is compared with — the issuer's current key as a
//! `jsonwebtoken` key and as a pre-parsed aws-lc key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokenguard::{Authenticator, Credential, JwksOptions, JwtRules, Scheme, TokenCacheOptions};
use tokenguard_testkit::{DEFAULT_AUDIENCE, KeyAlg, TestIssuer};

/// One issuer's token, verified once through tokenguard, and its floors.
// Each bench reads the fields it compares; the issuer serves the JWKS while it lives.
#[allow(dead_code)]
pub struct Fixture {
    pub issuer: TestIssuer,
    pub token: String,
    pub authenticator: Authenticator,
    pub decoding_key: jsonwebtoken::DecodingKey,
    pub parsed_key: aws_lc_rs::signature::ParsedPublicKey,
    /// The decoded signature, for the bare aws-lc check.
    pub signature: Vec<u8>,
}

impl Fixture {
    pub fn new(rt: &tokio::runtime::Runtime, alg: KeyAlg) -> Self {
        let issuer = rt.block_on(TestIssuer::start_with(alg));
        let token = issuer.token().scope("read write").sign();
        let authenticator = Authenticator::builder()
            .oidc_issuer(JwtRules::new(issuer.issuer(), [DEFAULT_AUDIENCE]), JwksOptions::default())
            .token_cache(TokenCacheOptions { max_bytes: 0, ..TokenCacheOptions::default() })
            .build()
            .expect("authenticator");
        rt.block_on(authenticator.verify(Credential::new(Scheme::Bearer, &token))).expect("the token verifies");
        let jwks: serde_json::Value = rt.block_on(async {
            let body = reqwest::get(issuer.jwks_uri()).await.expect("jwks").text().await.expect("body");
            serde_json::from_str(&body).expect("json")
        });
        let pem = issuer.public_key_pem(&issuer.current_kid()).expect("PEM");
        let (decoding_key, parsed_key) = floors(&jwks, alg, &pem);
        let signature = URL_SAFE_NO_PAD.decode(token.rsplit_once('.').expect("jws").1).expect("signature");
        let fixture = Self { issuer, token, authenticator, decoding_key, parsed_key, signature };
        assert!(
            fixture.parsed_key.verify_sig(fixture.signing_input(), &fixture.signature).is_ok(),
            "the floor verifies"
        );
        fixture
    }

    /// `BASE64URL(header) . BASE64URL(payload)`: what the signature covers.
    pub fn signing_input(&self) -> &[u8] {
        self.token.rsplit_once('.').expect("jws").0.as_bytes()
    }

    pub fn credential(&self) -> Credential<'_> {
        Credential::new(Scheme::Bearer, &self.token)
    }
}

/// The JWK of the issuer's current key, as a `jsonwebtoken` key and as a
/// pre-parsed aws-lc key.
fn floors(
    jwks: &serde_json::Value,
    alg: KeyAlg,
    pem: &str,
) -> (jsonwebtoken::DecodingKey, aws_lc_rs::signature::ParsedPublicKey) {
    let jwk = &jwks["keys"][0];
    let b64 = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().expect("member")).expect("base64url");
    use aws_lc_rs::signature::{self, ParsedPublicKey};
    match alg {
        KeyAlg::Rs256 | KeyAlg::Ps256 => {
            let (n, e) = (b64("n"), b64("e"));
            let from_pem = jsonwebtoken::DecodingKey::from_rsa_pem(pem.as_bytes()).expect("RSA PEM");
            let der = from_pem.try_get_as_bytes().expect("RSA DER");
            let parsed = ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, der).expect("RSA key");
            (jsonwebtoken::DecodingKey::from_rsa_raw_components(&n, &e), parsed)
        }
        KeyAlg::Es256 => {
            let (x, y) = (b64("x"), b64("y"));
            let point: Vec<u8> = [&[4u8][..], &x, &y].concat();
            let parsed = ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).expect("EC key");
            let key =
                jsonwebtoken::DecodingKey::from_ec_components(jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap());
            (key.expect("EC key"), parsed)
        }
        KeyAlg::EdDsa => {
            let x = b64("x");
            let parsed = ParsedPublicKey::new(&signature::ED25519, &x).expect("Ed25519 key");
            (jsonwebtoken::DecodingKey::from_ed_components(jwk["x"].as_str().unwrap()).expect("Ed key"), parsed)
        }
    }
}
