//! API tokens (a service account's scoped token, a person's token): HTTP basic auth with
//! the account's email and the token, built for each request from the stored secret. There
//! is no token request and nothing is cached (Atlassian Support, "Manage API tokens for
//! your Atlassian account": `curl --user me@example.com:my-api-token`).

use secrecy::{ExposeSecret, SecretString};

use crate::connection::Credentials;

/// The `Authorization` header's value: `Basic base64(email:token)`. A secret itself.
pub(crate) fn header(credentials: &Credentials) -> SecretString {
    let mut pair = String::with_capacity(
        credentials.client_id().len() + 1 + credentials.client_secret().expose_secret().len(),
    );
    pair.push_str(credentials.client_id());
    pair.push(':');
    pair.push_str(credentials.client_secret().expose_secret());
    let mut value = String::from("Basic ");
    encode(pair.as_bytes(), &mut value);
    SecretString::from(value)
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648, section 4), as basic auth wants it.
fn encode(bytes: &[u8], out: &mut String) {
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        let mut out = String::new();
        encode(s.as_bytes(), &mut out);
        out
    }

    #[test]
    fn encodes_as_rfc_4648_says() {
        // RFC 4648, section 10.
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(b64(plain), coded, "{plain:?}");
        }
        assert_eq!(b64("\u{ff}\u{fe}"), "w7/Dvg==");
    }

    #[test]
    fn the_header_is_basic_email_colon_token() {
        let c = Credentials::personal_token("me@example.com", "my-api-token".to_owned());
        assert_eq!(
            header(&c).expose_secret(),
            "Basic bWVAZXhhbXBsZS5jb206bXktYXBpLXRva2Vu"
        );
    }
}
