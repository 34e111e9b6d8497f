use std::io::Write;

use anyhow::Context;
use keytrail_ledger::{InclusionProof, Ledger, Verifier};

use crate::cli::{ProveArgs, VerifyProofArgs};
use crate::exit::ExitCode;

pub async fn prove(ledger: &Ledger, args: ProveArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let checkpoint = match &args.checkpoint {
        Some(p) => Some(std::fs::read_to_string(p).with_context(|| format!("reading checkpoint {}", p.display()))?),
        None => None,
    };
    let verifier = match &args.public_key {
        Some(p) => Some(Verifier::from_file(p).context("reading the public key")?),
        None => None,
    };
    let proof = ledger.prove(&args.stream, args.seq, checkpoint.as_deref(), verifier.as_ref()).await?;
    let json = serde_json::to_string_pretty(&proof)? + "\n";
    match &args.out {
        Some(p) => {
            super::write_new(p, json.as_bytes())?;
            writeln!(out, "proof of {} seq {} in a tree of {} rows written to {}", proof.stream, proof.seq, proof.tree_size, p.display())?;
        }
        None => out.write_all(json.as_bytes())?,
    }
    Ok(ExitCode::Success)
}

pub fn verify(args: VerifyProofArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.proof).with_context(|| format!("reading proof {}", args.proof.display()))?;
    let proof: InclusionProof = serde_json::from_str(&text).with_context(|| format!("{} is not a keytrail proof", args.proof.display()))?;
    let note = std::fs::read_to_string(&args.checkpoint).with_context(|| format!("reading checkpoint {}", args.checkpoint.display()))?;
    let verifier = Verifier::from_file(&args.public_key).context("reading the public key")?;
    match proof.verify(&note, &verifier, &args.checkpoint.display().to_string()) {
        Ok(cp) => {
            writeln!(out, "valid: {} seq {} is included in checkpoint {} (size {})", proof.stream, proof.seq, cp.origin, cp.size)?;
            if let Some(raw) = proof.proven_raw() {
                writeln!(out, "record: {}", String::from_utf8_lossy(&raw))?;
            }
            Ok(ExitCode::Success)
        }
        Err(why) => {
            writeln!(out, "INVALID: {why}")?;
            Ok(ExitCode::Invalid)
        }
    }
}
