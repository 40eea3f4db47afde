//! A standalone test issuer for demos and load tests.
//!
//! ```text
//! tokenguard-issuer [--tokens N] [--out FILE] [--scope "read write"] [--audience A]
//! ```
//!
//! Prints `issuer http://127.0.0.1:PORT`, writes N distinct valid tokens (one
//! per line, valid for an hour) to FILE, prints `ready`, and serves
//! discovery and JWKS until killed.

use std::io::Write;

use tokenguard_testkit::{DEFAULT_AUDIENCE, TestIssuer};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut tokens = 0usize;
    let mut out = None;
    let mut scope = "read".to_owned();
    let mut audience = DEFAULT_AUDIENCE.to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_else(|| usage(&format!("{arg} needs a value")));
        match arg.as_str() {
            "--tokens" => tokens = value.parse().unwrap_or_else(|_| usage("--tokens takes a number")),
            "--out" => out = Some(value),
            "--scope" => scope = value,
            "--audience" => audience = value,
            _ => usage(&format!("unknown argument {arg}")),
        }
    }
    let issuer = TestIssuer::start().await;
    println!("issuer {}", issuer.issuer());
    if tokens > 0 {
        let path = out.unwrap_or_else(|| usage("--tokens needs --out FILE"));
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create the tokens file"));
        for n in 0..tokens {
            let token = issuer.token().audience(audience.as_str()).scope(&scope).claim("jti", n.to_string()).sign();
            writeln!(file, "{token}").expect("write a token");
        }
        file.flush().expect("write the tokens file");
    }
    println!("ready");
    std::future::pending::<()>().await;
}

fn usage(message: &str) -> ! {
    eprintln!("tokenguard-issuer: {message}");
    eprintln!("usage: tokenguard-issuer [--tokens N --out FILE] [--scope S] [--audience A]");
    std::process::exit(2);
}
