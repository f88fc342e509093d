//! Test helper, not a product feature: flips one byte of one stored record
//! of a backup clone's data, offline, to prove that `meld-gateway verify`
//! and the server's quarantine find it (`tests/interop/scenarios/integrity-quarantine.mjs`).
//!
//! Usage: `flip_record <data path> <account> <name>`. Flips the last byte of
//! the value of the first triple in the domain's current `spo` tree (one of
//! its TIDs), through sled, so sled's own checksums stay valid and only the
//! logical check can notice. Exits 1 if the domain has no triple.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, data, account, name] = args.as_slice() else {
        eprintln!("usage: flip_record <data path> <account> <name>");
        return ExitCode::from(2);
    };
    match flip(data, account, name) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flip_record: {e}");
            ExitCode::FAILURE
        }
    }
}

fn flip(data: &str, account: &str, name: &str) -> Result<(), Box<dyn std::error::Error>> {
    let db = sled::open(std::path::Path::new(data).join("db"))?;
    let prefix = format!("clone/{account}/{name}/");
    let root = db.open_tree(format!("{prefix}root"))?;
    let generation = match root.get(b"gen")? {
        Some(bytes) => u64::from_be_bytes(bytes.as_ref().try_into()?),
        None => 0,
    };
    let spo = db.open_tree(format!("{prefix}g{generation}/spo"))?;
    let (key, value) = spo.first()?.ok_or("the domain has no triple")?;
    let mut flipped = value.to_vec();
    let last = flipped.last_mut().ok_or("empty value")?;
    *last ^= 0x01;
    spo.insert(&key, flipped)?;
    db.flush()?;
    println!("flipped the last byte of one spo record of {account}/{name} (generation {generation})");
    Ok(())
}
