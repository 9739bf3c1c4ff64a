//! Builds the asset table: every file under `assets/`, plus ECharts from the npm registry,
//! pinned by `package-lock.json`. The consoles need nothing from the internet at run time.
//!
//! ECharts is installed with `npm ci` into `OUT_DIR` (not the source tree), once per lock
//! file. To build with no registry, set `WHISTLE_ECHARTS` to a copy of `echarts.min.js` of
//! the version the lock file names.

use std::collections::hash_map::DefaultHasher;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it"));
    println!("cargo:rerun-if-changed=assets");
    println!("cargo:rerun-if-changed=package.json");
    println!("cargo:rerun-if-changed=package-lock.json");
    println!("cargo:rerun-if-env-changed=WHISTLE_ECHARTS");

    let mut files = Vec::new();
    collect(&manifest.join("assets"), "", &mut files);
    files.sort();
    let echarts = echarts(&manifest, &out);
    let mut table = String::from(
        "/// Every built-in asset: path under `/assets/`, bytes, entity tag.\npub static ASSETS: &[Asset] = &[\n",
    );
    for (name, path) in files
        .iter()
        .map(|(n, p)| (n.as_str(), p.as_path()))
        .chain(std::iter::once((
            "vendor/echarts.min.js",
            echarts.as_path(),
        )))
    {
        let bytes = fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let mut hasher = DefaultHasher::new();
        bytes.hash(&mut hasher);
        writeln!(
            table,
            "    Asset {{ path: {name:?}, body: include_bytes!({:?}), etag: \"\\\"{:016x}\\\"\" }},",
            path.display().to_string(),
            hasher.finish()
        )
        .expect("writing to a string");
    }
    table.push_str("];\n");
    fs::write(out.join("assets.rs"), table).expect("writing the asset table");
}

fn collect(dir: &Path, prefix: &str, files: &mut Vec<(String, PathBuf)>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.expect("a directory entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if path.is_dir() {
            collect(&path, &format!("{prefix}{name}/"), files);
        } else {
            files.push((format!("{prefix}{name}"), path));
        }
    }
}

/// The path of `echarts.min.js`: `WHISTLE_ECHARTS`, or installed from the lock file.
fn echarts(manifest: &Path, out: &Path) -> PathBuf {
    if let Some(file) = env::var_os("WHISTLE_ECHARTS") {
        // include_bytes! reads from OUT_DIR, so the path must not be relative; and a new
        // copy must rebuild the table, whose entity tag is of its bytes.
        let file = fs::canonicalize(&file)
            .unwrap_or_else(|e| panic!("WHISTLE_ECHARTS={}: {e}", PathBuf::from(&file).display()));
        println!("cargo:rerun-if-changed={}", file.display());
        return file;
    }
    let npm = out.join("npm");
    let installed = npm.join("node_modules/echarts/dist/echarts.min.js");
    let lock = fs::read(manifest.join("package-lock.json")).expect("reading package-lock.json");
    let stamp = npm.join("installed-from.lock");
    if installed.exists() && fs::read(&stamp).is_ok_and(|s| s == lock) {
        return installed;
    }
    fs::create_dir_all(&npm).expect("creating the npm folder");
    for file in ["package.json", "package-lock.json"] {
        fs::copy(manifest.join(file), npm.join(file)).expect("copying the npm manifest");
    }
    let status = Command::new("npm")
        .args([
            "ci",
            "--omit=dev",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
        ])
        .current_dir(&npm)
        .status();
    match status {
        Ok(s) if s.success() && installed.exists() => {
            fs::write(&stamp, lock).expect("writing the install stamp");
            installed
        }
        Ok(s) => panic!(
            "`npm ci` for the consoles' ECharts failed ({s}); check that the npm registry is reachable, \
             or set WHISTLE_ECHARTS to a copy of echarts.min.js"
        ),
        Err(e) => panic!(
            "running `npm` to fetch the consoles' ECharts: {e}; install Node.js and npm \
             (Debian: apt-get install nodejs npm), or set WHISTLE_ECHARTS to a copy of echarts.min.js"
        ),
    }
}
