//! Bootstrap tokens, formatted as Kubernetes formats its own: `<id>.<secret>`, a public id of
//! 6 characters and a secret of 16, both of `[a-z0-9]`, drawn from the operating system's
//! CSPRNG (ring's `SystemRandom`).
//!
//! The registry stores a token under its id with only the SHA-256 of its secret
//! ([`BootstrapToken::secret_sha256`]) and checks a presented token against that hash in
//! constant time ([`BootstrapToken::secret_matches`]). The secret never appears in `Debug`
//! output and the type has no `Display`: the whole token is spelled only by
//! [`BootstrapToken::expose`], where it is sent or shown once.

use std::fmt;
use std::str::FromStr;

use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom as _, SystemRandom};
use subtle::ConstantTimeEq as _;

/// Length of a token's id.
pub const ID_LEN: usize = 6;
/// Length of a token's secret.
pub const SECRET_LEN: usize = 16;
/// The characters of ids and secrets.
const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// Random bytes at or above this are drawn again, so every character is equally likely
/// (252 = 7 × 36).
const UNBIASED_BELOW: u8 = 252;

/// A token could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The text is not `<6 characters>.<16 characters>` of `[a-z0-9]`. (The text itself is not
    /// repeated: it may be a real token with a typo.)
    #[error(
        "a bootstrap token is <6 characters>.<16 characters>, each of a-z and 0-9, as \
         Bootstrap/CreateToken returns it"
    )]
    Malformed,
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
}

/// A bootstrap token: its public id and its secret.
#[derive(Clone, PartialEq, Eq)]
pub struct BootstrapToken {
    id: String,
    secret: String,
}

impl fmt::Debug for BootstrapToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BootstrapToken")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A secret of `len` characters of [`ALPHABET`] from the system's CSPRNG (route passwords).
pub(crate) fn random_secret(len: usize) -> Result<String, TokenError> {
    random_chars(&SystemRandom::new(), len)
}

/// `len` characters of [`ALPHABET`], uniformly drawn from `random`.
fn random_chars(random: &SystemRandom, len: usize) -> Result<String, TokenError> {
    let mut chars = String::with_capacity(len);
    let mut bytes = [0u8; 32];
    while chars.len() < len {
        random.fill(&mut bytes).map_err(|_| TokenError::Random)?;
        for byte in bytes {
            if byte < UNBIASED_BELOW && chars.len() < len {
                chars.push(char::from(ALPHABET[usize::from(byte % 36)]));
            }
        }
    }
    Ok(chars)
}

fn is_part(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| ALPHABET.contains(&b))
}

impl BootstrapToken {
    /// A new random token.
    pub fn generate() -> Result<Self, TokenError> {
        let random = SystemRandom::new();
        Ok(Self {
            id: random_chars(&random, ID_LEN)?,
            secret: random_chars(&random, SECRET_LEN)?,
        })
    }

    /// Reads `<id>.<secret>` (surrounding whitespace ignored, as in a pasted token).
    pub fn parse(text: &str) -> Result<Self, TokenError> {
        let (id, secret) = text.trim().split_once('.').ok_or(TokenError::Malformed)?;
        if !is_part(id, ID_LEN) || !is_part(secret, SECRET_LEN) {
            return Err(TokenError::Malformed);
        }
        Ok(Self {
            id: id.to_string(),
            secret: secret.to_string(),
        })
    }

    /// The public id (the key of the token's record).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The whole token, `<id>.<secret>`: only to send it, or to show it once to whoever made it.
    pub fn expose(&self) -> String {
        format!("{}.{}", self.id, self.secret)
    }

    /// SHA-256 of the secret: what is stored instead of it.
    pub fn secret_sha256(&self) -> Vec<u8> {
        digest(&SHA256, self.secret.as_bytes()).as_ref().to_vec()
    }

    /// Whether the secret hashes to `sha256`, compared in constant time.
    pub fn secret_matches(&self, sha256: &[u8]) -> bool {
        self.secret_sha256().ct_eq(sha256).into()
    }
}

impl FromStr for BootstrapToken {
    type Err = TokenError;

    fn from_str(text: &str) -> Result<Self, TokenError> {
        Self::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn generated_tokens_have_kubernetes_shape_and_read_back() {
        let mut ids = HashSet::new();
        for _ in 0..200 {
            let token = BootstrapToken::generate().unwrap();
            let text = token.expose();
            assert_eq!(text.len(), ID_LEN + 1 + SECRET_LEN, "{text}");
            assert!(
                text.bytes()
                    .all(|b| b == b'.' || b.is_ascii_lowercase() || b.is_ascii_digit()),
                "{text}"
            );
            assert_eq!(BootstrapToken::parse(&text).unwrap(), token);
            ids.insert(token.id().to_string());
        }
        // 36^6 ids: 200 draws that collide would mean a broken generator.
        assert_eq!(ids.len(), 200);
    }

    #[test]
    fn every_character_is_drawn() {
        let random = SystemRandom::new();
        let drawn: HashSet<char> = random_chars(&random, 4000).unwrap().chars().collect();
        assert_eq!(drawn.len(), 36);
    }

    #[test]
    fn malformed_tokens_are_refused_without_repeating_them() {
        for bad in [
            "",
            "abcdef",
            "abcdef.",
            "abcdef.0123456789abcde",
            "abcdef.0123456789abcdef0",
            "ABCDEF.0123456789abcdef",
            "abcde.0123456789abcdefg",
            "abcdef:0123456789abcdef",
            "abc-ef.0123456789abcdef",
            "abcdef.0123456789abcdef.x",
        ] {
            let error = BootstrapToken::parse(bad).unwrap_err();
            assert_eq!(error, TokenError::Malformed, "{bad:?}");
            if !bad.is_empty() {
                assert!(!error.to_string().contains(bad), "{bad:?}");
            }
        }
        let token: BootstrapToken = " abcdef.0123456789abcdef\n".parse().unwrap();
        assert_eq!(token.id(), "abcdef");
    }

    #[test]
    fn the_secret_is_checked_against_its_hash_and_never_printed() {
        let token = BootstrapToken::parse("abcdef.0123456789abcdef").unwrap();
        let hash = token.secret_sha256();
        assert_eq!(hash.len(), 32);
        assert!(token.secret_matches(&hash));
        let other = BootstrapToken::parse("abcdef.0123456789abcdeg").unwrap();
        assert!(!other.secret_matches(&hash));
        assert!(!token.secret_matches(&hash[..31]));
        assert!(!token.secret_matches(&[]));
        let debug = format!("{token:?}");
        assert!(!debug.contains("0123456789abcdef"), "{debug}");
        assert!(debug.contains("abcdef"), "{debug}");
    }
}
