//! Standard Webhooks signatures (<https://www.standardwebhooks.com>): the three headers
//! a receiver verifies a delivery by.
//!
//! The signature is HMAC-SHA256, keyed by the secret's bytes, over
//! `{webhook-id}.{webhook-timestamp}.{body}`, written `v1,` + base64. While a rotated
//! secret still signs, a delivery carries one signature per secret, separated by a
//! space, and a receiver holding either accepts it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::SigningSecret;

/// The `webhook-signature` value for a delivery signed by each of `secrets`.
pub fn sign(secrets: &[SigningSecret], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|secret| {
            let mut mac = Hmac::<Sha256>::new_from_slice(&secret.key())
                .expect("HMAC takes a key of any length");
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification (its "Verifying Webhook
    /// Authenticity" section and its reference libraries' tests).
    #[test]
    fn signs_the_specifications_example() {
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&[secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_rotation_signs_with_each_secret() {
        let (new, old) = (SigningSecret::generate(), SigningSecret::generate());
        let both = sign(&[new.clone(), old.clone()], "msg_1", 1, b"{}");
        assert_eq!(
            both,
            format!(
                "{} {}",
                sign(&[new], "msg_1", 1, b"{}"),
                sign(&[old], "msg_1", 1, b"{}")
            )
        );
    }
}
