//! The actix middleware over a real loopback socket: scope answers for fresh
//! and cached credentials (a cached principal carries its own context, so
//! no `AuthContext` is inserted for it), and the answers to a misconfigured
//! app.

use actix_web::{App, HttpResponse, HttpServer, web};
use tokenguard_actix::{Authentication, Principal, RequireScope};
use tokenguard_core::{Authenticator, JwksOptions, JwtRules};
use tokenguard_testkit::{DEFAULT_AUDIENCE, TestIssuer};

async fn subject(principal: Principal) -> HttpResponse {
    HttpResponse::Ok().body(principal.subject().to_owned())
}

/// A test issuer, and the app trusting it served on 127.0.0.1 (its base URL).
async fn start() -> (TestIssuer, String) {
    let issuer = TestIssuer::start().await;
    let authenticator = Authenticator::builder()
        .oidc_issuer(JwtRules::new(issuer.issuer(), [DEFAULT_AUDIENCE]), JwksOptions::default())
        .build()
        .expect("authenticator");
    (issuer, serve(authenticator))
}

/// Serves the app on 127.0.0.1 and returns its base URL.
fn serve(authenticator: Authenticator) -> String {
    let server = HttpServer::new(move || {
        App::new()
            .service(
                web::scope("/guarded")
                    .wrap(RequireScope::new("write"))
                    .wrap(Authentication::required(authenticator.clone()))
                    .route("", web::get().to(subject)),
            )
            // Misconfigured: a guard and an extractor with no Authentication in front.
            .service(web::scope("/unguarded").wrap(RequireScope::new("write")).route("", web::get().to(subject)))
            .route("/bare", web::get().to(subject))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .expect("bind");
    let address = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    format!("http://{address}")
}

async fn get(url: &str, token: Option<&str>) -> (u16, Option<String>, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let challenge = response.headers().get("www-authenticate").map(|value| value.to_str().expect("ascii").to_owned());
    (response.status().as_u16(), challenge, response.text().await.expect("body"))
}

#[actix_web::test]
async fn scope_answers_are_the_same_for_fresh_and_cached_credentials() {
    let (issuer, base) = start().await;
    let writer = issuer.token().scope("read write").sign();
    let reader = issuer.token().scope("read").sign();
    // The second request of each token is answered from the verified-token cache.
    for _ in 0..2 {
        assert_eq!(get(&format!("{base}/guarded"), Some(&writer)).await, (200, None, "alice".to_owned()));
        let (status, challenge, _) = get(&format!("{base}/guarded"), Some(&reader)).await;
        assert_eq!(status, 403);
        let challenge = challenge.expect("a 403 names what is missing");
        assert!(challenge.starts_with("Bearer "), "{challenge}");
        assert!(challenge.contains(r#"error="insufficient_scope""#), "{challenge}");
        assert!(challenge.contains(r#"scope="write""#), "{challenge}");
    }
    let (status, challenge, _) = get(&format!("{base}/guarded"), None).await;
    assert_eq!(status, 401);
    assert!(challenge.is_some_and(|challenge| challenge.starts_with("Bearer")));
}

#[actix_web::test]
async fn a_guard_or_an_extractor_without_authentication_is_a_server_error() {
    let (issuer, base) = start().await;
    let token = issuer.token().scope("read write").sign();
    assert_eq!(
        get(&format!("{base}/unguarded"), Some(&token)).await,
        (500, None, "tokenguard: no authentication layer in front of this route".to_owned())
    );
    assert_eq!(
        get(&format!("{base}/bare"), Some(&token)).await,
        (500, None, "tokenguard: no authentication layer in front of this route".to_owned())
    );
}
