use std::io::Write;

use anyhow::Context;
use keytrail_ledger::Signer;

use crate::cli::KeygenArgs;
use crate::exit::ExitCode;

pub fn run(args: KeygenArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let signer = Signer::generate(&args.name)?;
    signer.write_key_files(&args.out).with_context(|| format!("writing the key pair to {} (existing keys are never overwritten)", args.out.display()))?;
    writeln!(out, "private key: {} (mode 0600; keep it secret)", args.out.display())?;
    writeln!(out, "public key:  {}.pub", args.out.display())?;
    writeln!(out, "verifier:    {}", signer.verifier())?;
    Ok(ExitCode::Success)
}
