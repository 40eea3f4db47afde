//! The floors the benches compare tokenguard with: the issuer's current key
//! as a `jsonwebtoken` key and as a pre-parsed aws-lc key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokenguard_testkit::KeyAlg;

/// The JWK of the issuer's current key, as a `jsonwebtoken` key and as a
/// pre-parsed aws-lc key.
pub fn floors(
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
