//! Fresh skolem IRIs for inserted subjects without `@id`, as the JS engine
//! mints them: `/.well-known/genid/<id>` resolved against the domain's base
//! (RDF 1.1 §3.5), the id a CUID-like `c` followed by lowercase letters and
//! digits. Randomness keeps ids from different clones apart.

use rand::Rng;

use crate::meld::jsonld::Context;
use crate::meld::term::Term;

/// Characters after the leading `c`; 24 base-36 digits carry about 124 bits.
const ID_DIGITS: usize = 24;

const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// A generator of fresh skolem IRIs under `ctx`'s base.
pub fn generator(ctx: &Context) -> impl FnMut() -> Term + '_ {
    let mut rng = rand::rng();
    move || {
        let id: String = (0..ID_DIGITS)
            .map(|_| char::from(ALPHABET.get(rng.random_range(0..ALPHABET.len())).copied().unwrap_or(b'0')))
            .collect();
        ctx.expand_id(&format!("/.well-known/genid/c{id}"))
    }
}
