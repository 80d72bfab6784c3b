use super::print;
use anyhow::{Context as _, Result, bail};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;
use tokentally_sample::{SampleConfig, generate};

pub fn sample(out: &Path, calls: usize, seed: u64, month: &str) -> Result<ExitCode> {
    let Some((year, mon)) = month
        .split_once('-')
        .and_then(|(y, m)| Some((y.parse().ok()?, m.parse().ok()?)))
    else {
        bail!("--month {month:?}: expected YYYY-MM");
    };
    if !(1..=12).contains(&mon) {
        bail!("--month {month:?}: month must be 01..12");
    }
    let config = SampleConfig {
        seed,
        calls,
        year,
        month: mon,
    };
    let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let write_err = || format!("writing {}", out.display());
    let stats = if out.extension().is_some_and(|e| e == "gz") {
        let mut gz = flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::best());
        let stats = generate(&config, &mut gz).with_context(write_err)?;
        gz.finish().and_then(|mut w| w.flush()).with_context(write_err)?;
        stats
    } else {
        let mut w = BufWriter::new(file);
        let stats = generate(&config, &mut w).with_context(write_err)?;
        w.flush().with_context(write_err)?;
        stats
    };
    print(&format!(
        "wrote {} calls ({} bytes before compression) to {}\n",
        stats.calls,
        stats.bytes,
        out.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}
