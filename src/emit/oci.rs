//! The image writers: an OCI image layout (a directory) or archive (a tarball) of a
//! [`Rootfs`], with one gzip layer, its config and its manifest, loadable without a daemon.
//!
//! Layout (opencontainers/image-spec, as `docker save` of Docker 25+ writes it):
//!
//! ```text
//! oci-layout                      {"imageLayoutVersion":"1.0.0"}
//! index.json                      image index: one manifest, tagged with the
//!                                 org.opencontainers.image.ref.name annotation
//! blobs/sha256/<layer>            the rootfs as a .tar.gz (write_tar's bytes)
//! blobs/sha256/<config>           image config: platform, rootfs.diff_ids, config, history
//! blobs/sha256/<manifest>         image manifest
//! manifest.json                   (archive only) docker's [{Config, RepoTags, Layers}]
//! ```
//!
//! Byte-reproducible: JSON with a fixed field order and no whitespace, the layer's tar from
//! [`write_tar`](super::write_tar) (fixed headers), compressed in parallel in independent
//! 256 KiB chunks (the same bytes with any thread count; gzip header without name or time),
//! the archive's own members
//! in a fixed order with fixed headers (owner 0, mode 0644 or 0755, every mtime
//! [`ImageOptions::created`]). The layer's `diff_id` (sha256 of the uncompressed tar) and
//! digest (sha256 of the gzip blob) are computed while it is written, in one pass.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind};
use crate::model::Closure;
use crate::root::Root;

use super::atomic::{next_id, temp_name};
use super::dir::TempTree;
use super::plan::Rootfs;
use super::tar::{write_tar, Compression, TarOptions};

/// Media type of an image index.
pub const MEDIA_TYPE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Media type of an image manifest.
pub const MEDIA_TYPE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Media type of an image config.
pub const MEDIA_TYPE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Media type of a gzip-compressed layer.
pub const MEDIA_TYPE_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Media type of an uncompressed layer.
pub const MEDIA_TYPE_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// The index annotation naming an image in a layout.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The index annotation containerd (and Docker's containerd image store) names an image by:
/// the fully qualified reference (`docker.io/library/redis:7`), as `docker save` writes it.
pub const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";
/// `PATH` of [`ImageOptions::new`]'s environment (the one distroless images set).
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The platform of an image: `architecture`, `os` and `variant` in OCI terms.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub struct Platform {
    /// `amd64`, `arm64`, `arm`, `386`, `ppc64le`, `s390x`, `riscv64`, ...
    pub architecture: String,
    /// Always `linux` here.
    pub os: String,
    /// `v8` for arm64, `v7` (hard-float) or `v5` for arm; `None` elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// A Linux platform.
    pub fn linux(architecture: impl Into<String>, variant: Option<&str>) -> Platform {
        Platform { architecture: architecture.into(), os: "linux".into(), variant: variant.map(str::to_string) }
    }

    /// The platform of one ELF header (`e_ident`, `e_machine`, `e_flags`), `None` for a
    /// machine with no OCI architecture name.
    pub fn of_elf_header(header: &crate::elf::RawHeader) -> Option<Platform> {
        let elf64 = header.class() == crate::Class::Elf64;
        let be = header.big_endian();
        let (arch, variant) = match (header.machine, elf64, be) {
            (62, true, false) => ("amd64", None),
            (183, true, false) => ("arm64", Some("v8")),
            // EF_ARM_ABI_FLOAT_HARD: Debian armhf (ARMv7); soft-float armel is ARMv5.
            (40, false, false) if header.flags & 0x400 != 0 => ("arm", Some("v7")),
            (40, false, false) => ("arm", Some("v5")),
            (3, false, false) => ("386", None),
            (21, true, false) => ("ppc64le", None),
            (21, true, true) => ("ppc64", None),
            (22, true, true) => ("s390x", None),
            (243, true, false) => ("riscv64", None),
            (8, true, false) => ("mips64le", None),
            (8, true, true) => ("mips64", None),
            (8, false, false) => ("mipsle", None),
            (8, false, true) => ("mips", None),
            (258, true, false) => ("loong64", None),
            _ => return None,
        };
        Some(Platform::linux(arch, variant))
    }
}

/// The platform of an image holding `closures`: that of their inputs' ELF headers (each
/// input's header is read again for its byte order and ABI flags).
///
/// # Errors
/// No closure; an input cannot be read; a machine with no OCI name; inputs of different
/// platforms, or a closure loading objects of another machine than its input
/// ([`ErrorKind::Config`], naming both files).
pub fn platform_of(closures: &[Closure]) -> Result<Platform, Error> {
    let mut found: Option<(Platform, &Path)> = None;
    for c in closures {
        let input = c.input_object();
        for o in &c.objects {
            if o.file.machine != input.file.machine {
                return Err(Error::new(
                    ErrorKind::Config,
                    &o.file.location.realpath,
                    format!(
                        "machine {} differs from that of {} ({})",
                        o.file.machine,
                        input.file.location.realpath.display(),
                        input.file.machine
                    ),
                ));
            }
        }
        let root = Root::new(&c.root).map_err(|e| Error::io(&c.root, e))?;
        let host = root.host_path(&input.file.location.realpath);
        let mut head = [0u8; 64];
        let n = read_head(&host, &mut head).map_err(|e| Error::io(&host, e))?;
        let header = crate::elf::RawHeader::read(&head[..n])
            .ok_or_else(|| Error::new(ErrorKind::NotElf, &host, "no ELF header"))?;
        let p = Platform::of_elf_header(&header).ok_or_else(|| {
            Error::new(ErrorKind::Config, &host, format!("no OCI architecture for ELF machine {}", header.machine))
        })?;
        match &found {
            None => found = Some((p, &c.input)),
            Some((q, first)) if *q != p => {
                return Err(Error::new(
                    ErrorKind::Config,
                    &c.input,
                    format!(
                        "mixed machines in one image: {} is {}, but {} is {}",
                        first.display(),
                        platform_name(q),
                        c.input.display(),
                        platform_name(&p)
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    found.map(|(p, _)| p).ok_or_else(|| Error::new(ErrorKind::Config, "<image>", "no input to take the platform from"))
}

fn platform_name(p: &Platform) -> String {
    match &p.variant {
        Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
        None => format!("{}/{}", p.os, p.architecture),
    }
}

fn read_head(p: &Path, buf: &mut [u8]) -> io::Result<usize> {
    let mut f = File::open(p)?;
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Options for [`write_oci_layout`] and [`write_oci_archive`]: the image config and the
/// reference. Strings are taken as they are, except where said.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImageOptions {
    /// The image reference `NAME[:TAG]` (`:latest` is added when there is no tag): the
    /// index's `org.opencontainers.image.ref.name` annotation and docker's `RepoTags`.
    /// Default: none (no annotation, no `RepoTags`).
    pub tag: Option<String>,
    /// The platform ([`platform_of`] gives it for closures).
    pub platform: Platform,
    /// `config.Entrypoint`. Default: empty (none).
    pub entrypoint: Vec<String>,
    /// `config.Cmd`. Default: empty (none).
    pub cmd: Vec<String>,
    /// `config.Env`, each `KEY=VALUE`. Default: [`DEFAULT_PATH`]. [`ImageOptions::env`]
    /// replaces an entry with the same key.
    pub env: Vec<String>,
    /// `config.WorkingDir`. Default: none.
    pub workdir: Option<String>,
    /// `config.User` (`NAME`, `UID`, `NAME:GROUP`, `UID:GID`). Default: none (root).
    pub user: Option<String>,
    /// `config.Labels`. Default: none.
    pub labels: BTreeMap<String, String>,
    /// `config.ExposedPorts`, each `PORT/PROTO` (`80/tcp`). Default: none.
    pub exposed_ports: BTreeSet<String>,
    /// Creation time in seconds since the epoch: the config's `created` and `history`, and
    /// the mtime of every member of the layer and of the archive. Default: 0
    /// (`1970-01-01T00:00:00Z`). A caller passes `SOURCE_DATE_EPOCH` here.
    pub created: u64,
    /// Compression of the layer. Default: [`Compression::Gzip`] at level 6, compressed in
    /// parallel in independent 256 KiB chunks (as `pigz --independent`), so that its bytes do
    /// not depend on the thread count. [`Compression::None`]: an uncompressed layer
    /// (`application/vnd.oci.image.layer.v1.tar`; its digest is its diff_id), quicker to
    /// write, larger to move.
    pub layer_compression: Compression,
}

impl ImageOptions {
    /// Every default, for `platform`.
    pub fn new(platform: Platform) -> ImageOptions {
        ImageOptions {
            tag: None,
            platform,
            entrypoint: Vec::new(),
            cmd: Vec::new(),
            env: vec![DEFAULT_PATH.to_string()],
            workdir: None,
            user: None,
            labels: BTreeMap::new(),
            exposed_ports: BTreeSet::new(),
            created: 0,
            layer_compression: Compression::Gzip(6),
        }
    }

    /// Set [`ImageOptions::tag`].
    pub fn tag(&mut self, tag: impl Into<String>) -> &mut Self {
        self.tag = Some(tag.into());
        self
    }

    /// Set [`ImageOptions::entrypoint`].
    pub fn entrypoint<S: Into<String>>(&mut self, argv: impl IntoIterator<Item = S>) -> &mut Self {
        self.entrypoint = argv.into_iter().map(Into::into).collect();
        self
    }

    /// Set [`ImageOptions::cmd`].
    pub fn cmd<S: Into<String>>(&mut self, argv: impl IntoIterator<Item = S>) -> &mut Self {
        self.cmd = argv.into_iter().map(Into::into).collect();
        self
    }

    /// Add `KEY=VALUE` to [`ImageOptions::env`], replacing an entry with the same key.
    pub fn env(&mut self, key_value: impl Into<String>) -> &mut Self {
        let kv = key_value.into();
        let key = kv.split('=').next().unwrap_or_default().to_string();
        match self.env.iter_mut().find(|e| e.split('=').next() == Some(key.as_str())) {
            Some(e) => *e = kv,
            None => self.env.push(kv),
        }
        self
    }

    /// Set [`ImageOptions::workdir`].
    pub fn workdir(&mut self, dir: impl Into<String>) -> &mut Self {
        self.workdir = Some(dir.into());
        self
    }

    /// Set [`ImageOptions::user`].
    pub fn user(&mut self, user: impl Into<String>) -> &mut Self {
        self.user = Some(user.into());
        self
    }

    /// Add a label.
    pub fn label(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Add an exposed port, `PORT` or `PORT/PROTO` (`/tcp` is added when there is none).
    pub fn expose(&mut self, port: impl Into<String>) -> &mut Self {
        let p = port.into();
        self.exposed_ports.insert(if p.contains('/') { p } else { format!("{p}/tcp") });
        self
    }

    /// Set [`ImageOptions::created`].
    pub fn created(&mut self, secs: u64) -> &mut Self {
        self.created = secs;
        self
    }

    /// Set [`ImageOptions::layer_compression`].
    pub fn layer_compression(&mut self, c: Compression) -> &mut Self {
        self.layer_compression = c;
        self
    }

    /// The reference the image is written under: [`ImageOptions::tag`] with `:latest`
    /// added when it has no tag.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when it is not a valid `NAME[:TAG]` (lower-case name
    /// components of `[a-z0-9._-]` separated by `/`, an optional `host[:port]/` first; a tag
    /// of `[A-Za-z0-9_.-]`, at most 128 characters, not starting with `.` or `-`).
    pub fn reference(&self) -> Result<Option<String>, Error> {
        self.tag.as_deref().map(normalize_reference).transpose()
    }

    fn validate(&self) -> Result<(), Error> {
        let bad = |what: &str, v: &str| Error::new(ErrorKind::Config, "<image config>", format!("{what}: {v:?}"));
        for e in &self.env {
            if !e.contains('=') || e.starts_with('=') {
                return Err(bad("environment entry is not KEY=VALUE", e));
            }
        }
        for p in &self.exposed_ports {
            let (num, proto) = p.split_once('/').unwrap_or((p, ""));
            let ok_num = num.parse::<u16>().map(|n| n > 0).unwrap_or(false) && !num.starts_with('0');
            if !ok_num || !matches!(proto, "tcp" | "udp" | "sctp") {
                return Err(bad("exposed port is not PORT/tcp, PORT/udp or PORT/sctp", p));
            }
        }
        if self.labels.keys().any(|k| k.is_empty()) {
            return Err(bad("empty label key", ""));
        }
        if let Compression::Gzip(l) = self.layer_compression {
            if l > 9 {
                return Err(bad("gzip level above 9", &l.to_string()));
            }
        }
        self.reference()?;
        Ok(())
    }
}

/// `NAME[:TAG]` checked, with `:latest` added when there is no tag.
fn normalize_reference(r: &str) -> Result<String, Error> {
    let bad = |why: &str| Error::new(ErrorKind::Config, "<image reference>", format!("{r:?}: {why}"));
    // A tag is after the last ':' that is not followed by a '/' (a registry port).
    let (name, tag) = match r.rfind(':') {
        Some(i) if !r[i + 1..].contains('/') => (&r[..i], &r[i + 1..]),
        _ => (r, "latest"),
    };
    if name.is_empty() || name.len() > 255 {
        return Err(bad("the name is empty or longer than 255 characters"));
    }
    let tag_ok = !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !tag_ok {
        return Err(bad("the tag must be 1 to 128 of [A-Za-z0-9_.-], not starting with '.' or '-'"));
    }
    let mut comps: Vec<&str> = name.split('/').collect();
    // A first component with a '.' or ':' or equal to localhost is a registry host.
    if comps.len() > 1 && (comps[0].contains(['.', ':']) || comps[0] == "localhost") {
        let host = comps.remove(0);
        let host_ok = host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:".contains(&b));
        if !host_ok {
            return Err(bad("invalid registry host"));
        }
    }
    for c in comps {
        let ok = !c.is_empty()
            && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
            && c.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && c.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric());
        if !ok {
            return Err(bad("name components are lower-case letters, digits and . _ - (not at the ends)"));
        }
    }
    Ok(format!("{name}:{tag}"))
}

/// A normalized `NAME:TAG` fully qualified as Docker does: `redis:7` is
/// `docker.io/library/redis:7`, `me/app:1` is `docker.io/me/app:1`, a name with a registry
/// host (a first component with `.` or `:`, or `localhost`) is kept.
fn qualified_reference(r: &str) -> String {
    let first = r.split('/').next().unwrap_or_default();
    let has_host = r.contains('/') && (first.contains(['.', ':']) || first == "localhost");
    if has_host {
        r.to_string()
    } else if r.contains('/') {
        format!("docker.io/{r}")
    } else {
        format!("docker.io/library/{r}")
    }
}

/// RFC 3339 UTC time of `secs` since the epoch (`1970-01-01T00:00:00Z` for 0).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// A blob's identity.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Blob {
    /// `sha256:<hex>`.
    digest: String,
    size: u64,
}

impl Blob {
    fn of(bytes: &[u8]) -> Blob {
        Blob { digest: format!("sha256:{}", hex(&Sha256::digest(bytes))), size: bytes.len() as u64 }
    }

    fn hex(&self) -> &str {
        &self.digest["sha256:".len()..]
    }

    fn path(&self) -> String {
        format!("blobs/sha256/{}", self.hex())
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A writer that hashes and counts what goes through it.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    len: u64,
}

impl<W: Write> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing { inner, hash: Sha256::new(), len: 0 }
    }

    fn finish(self) -> (W, String, u64) {
        (self.inner, format!("sha256:{}", hex(&self.hash.finalize())), self.len)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The layer: digest and size of the blob, the diff_id, the media type.
struct Layer {
    blob: Blob,
    diff_id: String,
    media_type: &'static str,
}

/// Write the rootfs layer to `out`, hashing both streams (compressed, uncompressed) on the way.
fn write_layer<W: Write>(plan: &Rootfs, out: W, opts: &ImageOptions) -> Result<(Layer, W), Error> {
    let end = |e: io::Error| Error::io("<image layer>", e);
    let mut tar_opts = TarOptions::new();
    tar_opts.mtime(opts.created).compression(Compression::None);
    match opts.layer_compression {
        Compression::Gzip(level) => {
            let gz = super::pgzip::ParGz::new(Hashing::new(out), level);
            let mut tar = Hashing::new(gz);
            write_tar(plan, &mut tar, &tar_opts)?;
            let (gz, diff_id, _) = tar.finish();
            let compressed = gz.finish().map_err(end)?;
            let (out, digest, size) = compressed.finish();
            Ok((Layer { blob: Blob { digest, size }, diff_id, media_type: MEDIA_TYPE_LAYER_GZIP }, out))
        }
        _ => {
            let mut tar = Hashing::new(out);
            write_tar(plan, &mut tar, &tar_opts)?;
            let (out, digest, size) = tar.finish();
            let layer = Layer {
                blob: Blob { digest: digest.clone(), size },
                diff_id: digest,
                media_type: MEDIA_TYPE_LAYER_TAR,
            };
            Ok((layer, out))
        }
    }
}

// --- JSON documents (field order is the serialisation order) -------------------------------

#[derive(Serialize)]
struct Descriptor<'a> {
    #[serde(rename = "mediaType")]
    media_type: &'static str,
    digest: &'a str,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<BTreeMap<&'static str, &'a str>>,
}

#[derive(Serialize)]
struct ConfigDoc<'a> {
    created: String,
    architecture: &'a str,
    os: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<&'a str>,
    config: ExecConfig<'a>,
    rootfs: RootfsDoc<'a>,
    history: [History; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ExecConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    exposed_ports: BTreeMap<&'a str, Empty>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    env: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    entrypoint: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    cmd: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    working_dir: Option<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct RootfsDoc<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    diff_ids: [&'a str; 1],
}

#[derive(Serialize)]
struct History {
    created: String,
    created_by: String,
    comment: &'static str,
}

#[derive(Serialize)]
struct ManifestDoc<'a> {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'static str,
    config: Descriptor<'a>,
    layers: [Descriptor<'a>; 1],
}

#[derive(Serialize)]
struct IndexDoc<'a> {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'static str,
    manifests: [Descriptor<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifest<'a> {
    config: String,
    repo_tags: Vec<&'a str>,
    layers: [String; 1],
}

const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// The small JSON blobs and files that follow the layer.
struct Docs {
    config: Vec<u8>,
    config_blob: Blob,
    manifest: Vec<u8>,
    manifest_blob: Blob,
    index: Vec<u8>,
    docker: Vec<u8>,
}

fn json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("serialising plain data cannot fail")
}

fn docs(layer: &Layer, opts: &ImageOptions, reference: Option<&str>) -> Docs {
    let created = rfc3339(opts.created);
    let config = json(&ConfigDoc {
        created: created.clone(),
        architecture: &opts.platform.architecture,
        os: &opts.platform.os,
        variant: opts.platform.variant.as_deref(),
        config: ExecConfig {
            user: opts.user.as_deref(),
            exposed_ports: opts.exposed_ports.iter().map(|p| (p.as_str(), Empty {})).collect(),
            env: &opts.env,
            entrypoint: &opts.entrypoint,
            cmd: &opts.cmd,
            working_dir: opts.workdir.as_deref(),
            labels: &opts.labels,
        },
        rootfs: RootfsDoc { kind: "layers", diff_ids: [&layer.diff_id] },
        history: [History {
            created,
            created_by: format!("depclose {}", env!("CARGO_PKG_VERSION")),
            comment: "the shared-library closure of the inputs",
        }],
    });
    let config_blob = Blob::of(&config);
    let manifest = json(&ManifestDoc {
        schema_version: 2,
        media_type: MEDIA_TYPE_MANIFEST,
        config: Descriptor {
            media_type: MEDIA_TYPE_CONFIG,
            digest: &config_blob.digest,
            size: config_blob.size,
            annotations: None,
        },
        layers: [Descriptor {
            media_type: layer.media_type,
            digest: &layer.blob.digest,
            size: layer.blob.size,
            annotations: None,
        }],
    });
    let manifest_blob = Blob::of(&manifest);
    let full = reference.map(qualified_reference);
    let index = json(&IndexDoc {
        schema_version: 2,
        media_type: MEDIA_TYPE_INDEX,
        manifests: [Descriptor {
            media_type: MEDIA_TYPE_MANIFEST,
            digest: &manifest_blob.digest,
            size: manifest_blob.size,
            annotations: reference
                .zip(full.as_deref())
                .map(|(r, full)| BTreeMap::from([(ANNOTATION_CONTAINERD_NAME, full), (ANNOTATION_REF_NAME, r)])),
        }],
    });
    let docker = json(&[DockerManifest {
        config: config_blob.path(),
        repo_tags: reference.into_iter().collect(),
        layers: [layer.blob.path()],
    }]);
    Docs { config, config_blob, manifest, manifest_blob, index, docker }
}

// --- The archive ----------------------------------------------------------------------------

const BLOCK: u64 = 512;

fn member_header(name: &str, size: u64, dir: bool, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    {
        let g = h.as_gnu_mut().expect("a GNU header");
        let n = name.len().min(100);
        g.name[..n].copy_from_slice(&name.as_bytes()[..n]);
    }
    h.set_mode(if dir { 0o755 } else { 0o644 });
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(mtime);
    h.set_size(size);
    h.set_entry_type(if dir { tar::EntryType::Directory } else { tar::EntryType::Regular });
    h.set_cksum();
    h
}

fn pad<W: Write>(out: &mut W, len: u64) -> io::Result<()> {
    let rem = len % BLOCK;
    if rem != 0 {
        out.write_all(&[0u8; BLOCK as usize][..(BLOCK - rem) as usize])?;
    }
    Ok(())
}

fn member<W: Write>(out: &mut W, name: &str, body: &[u8], mtime: u64) -> io::Result<()> {
    out.write_all(member_header(name, body.len() as u64, false, mtime).as_bytes())?;
    out.write_all(body)?;
    pad(out, body.len() as u64)
}

/// Write `plan` as an OCI image archive (a tar of the image layout, with docker's
/// `manifest.json` beside it) to `out`, in one pass: the layer is compressed and hashed as
/// it is written, and its member header (whose name is the layer's digest) is written last,
/// over a placeholder (hence `Seek`). Members: `blobs/`, `blobs/sha256/`, the layer, the
/// config, the manifest, `index.json`, `manifest.json`, `oci-layout`.
///
/// Same plan, options and file contents: same bytes, on any machine, at any time, with any
/// thread count. Nothing is renamed: wrap a file in [`AtomicFile`](super::AtomicFile) for
/// all-or-nothing output.
///
/// # Errors
/// Invalid options ([`ErrorKind::Config`]); a source cannot be read or changed since the
/// plan was made; writing or seeking fails.
pub fn write_oci_archive<W: Write + Seek>(plan: &Rootfs, mut out: W, opts: &ImageOptions) -> Result<(), Error> {
    opts.validate()?;
    let reference = opts.reference()?;
    let io_err = |e: io::Error| Error::io("<image archive>", e);
    let t = opts.created;
    out.write_all(member_header("blobs/", 0, true, t).as_bytes()).map_err(io_err)?;
    out.write_all(member_header("blobs/sha256/", 0, true, t).as_bytes()).map_err(io_err)?;
    let header_at = out.stream_position().map_err(io_err)?;
    out.write_all(&[0u8; BLOCK as usize]).map_err(io_err)?;
    let (layer, mut out) = write_layer(plan, out, opts)?;
    pad(&mut out, layer.blob.size).map_err(io_err)?;
    let end = out.stream_position().map_err(io_err)?;
    if end - header_at != BLOCK + layer.blob.size.div_ceil(BLOCK) * BLOCK {
        return Err(Error::new(
            ErrorKind::Io,
            "<image archive>",
            "the writer's position does not follow the bytes written",
        ));
    }
    out.seek(SeekFrom::Start(header_at)).map_err(io_err)?;
    out.write_all(member_header(&layer.blob.path(), layer.blob.size, false, t).as_bytes()).map_err(io_err)?;
    out.seek(SeekFrom::Start(end)).map_err(io_err)?;
    let d = docs(&layer, opts, reference.as_deref());
    member(&mut out, &d.config_blob.path(), &d.config, t).map_err(io_err)?;
    member(&mut out, &d.manifest_blob.path(), &d.manifest, t).map_err(io_err)?;
    member(&mut out, "index.json", &d.index, t).map_err(io_err)?;
    member(&mut out, "manifest.json", &d.docker, t).map_err(io_err)?;
    member(&mut out, "oci-layout", OCI_LAYOUT, t).map_err(io_err)?;
    out.write_all(&[0u8; 2 * BLOCK as usize]).map_err(io_err)?;
    out.flush().map_err(io_err)
}

/// Write `plan` as an OCI image layout directory at `dest` (`oci-layout`, `index.json`,
/// `blobs/sha256/`; no docker `manifest.json`, which belongs to archives).
///
/// Built in a temporary directory beside `dest` and renamed into place at the end: `dest`
/// appears complete or not at all. `dest` must not exist, or be an empty directory.
///
/// # Errors
/// Invalid options ([`ErrorKind::Config`]); `dest` exists and is not an empty directory;
/// a source cannot be read; writing fails. The temporary directory is removed.
pub fn write_oci_layout(plan: &Rootfs, dest: impl AsRef<Path>, opts: &ImageOptions) -> Result<(), Error> {
    let dest = dest.as_ref();
    opts.validate()?;
    let reference = opts.reference()?;
    super::dir::check_destination(dest)?;
    let tmp = loop {
        let tmp = temp_name(dest, next_id())?;
        match DirBuilder::new().mode(0o755).create(&tmp) {
            Ok(()) => break tmp,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(dest, e)),
        }
    };
    let guard = TempTree::new(tmp.clone());
    let blobs = tmp.join("blobs/sha256");
    DirBuilder::new().mode(0o755).recursive(true).create(&blobs).map_err(err(dest))?;
    let layer_tmp = blobs.join(".layer.tmp");
    let f = create_file(&layer_tmp).map_err(err(&layer_tmp))?;
    let (layer, w) = write_layer(plan, io::BufWriter::with_capacity(256 * 1024, f), opts)?;
    let f = w.into_inner().map_err(|e| Error::io(&layer_tmp, e.into_error()))?;
    f.sync_all().map_err(err(&layer_tmp))?;
    drop(f);
    fs::rename(&layer_tmp, tmp.join(layer.blob.path())).map_err(err(&layer_tmp))?;
    let d = docs(&layer, opts, reference.as_deref());
    for (name, body) in [
        (d.config_blob.path(), &d.config[..]),
        (d.manifest_blob.path(), &d.manifest[..]),
        ("index.json".to_string(), &d.index[..]),
        ("oci-layout".to_string(), OCI_LAYOUT),
    ] {
        let p = tmp.join(&name);
        let mut f = create_file(&p).map_err(err(&p))?;
        f.write_all(body).and_then(|()| f.sync_all()).map_err(err(&p))?;
    }
    if let Ok(d) = File::open(&blobs) {
        let _ = d.sync_all();
    }
    fs::rename(&tmp, dest).map_err(err(dest))?;
    guard.disarm();
    Ok(())
}

fn err(p: &Path) -> impl Fn(io::Error) -> Error + '_ {
    move |e| Error::io(p, e)
}

fn create_file(p: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).mode(0o644).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_of_known_times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn references_get_a_tag_and_are_checked() {
        assert_eq!(normalize_reference("redis").unwrap(), "redis:latest");
        assert_eq!(normalize_reference("redis:7.0").unwrap(), "redis:7.0");
        assert_eq!(normalize_reference("localhost:5000/a/b").unwrap(), "localhost:5000/a/b:latest");
        assert_eq!(normalize_reference("ghcr.io/x/y:v1").unwrap(), "ghcr.io/x/y:v1");
        for bad in ["", "Redis", "a b", "a:", "a:-x", "/a", "a//b", "a:b/c:"] {
            assert!(normalize_reference(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn references_are_qualified_as_docker_does() {
        assert_eq!(qualified_reference("redis:7"), "docker.io/library/redis:7");
        assert_eq!(qualified_reference("me/app:1"), "docker.io/me/app:1");
        assert_eq!(qualified_reference("ghcr.io/x/y:v1"), "ghcr.io/x/y:v1");
        assert_eq!(qualified_reference("localhost:5000/a:latest"), "localhost:5000/a:latest");
        assert_eq!(qualified_reference("localhost/a:latest"), "localhost/a:latest");
    }

    #[test]
    fn options_are_validated() {
        let p = Platform::linux("amd64", None);
        assert!(ImageOptions::new(p.clone()).env("NOEQUALS").validate().is_err());
        assert!(ImageOptions::new(p.clone()).expose("http").validate().is_err());
        assert!(ImageOptions::new(p.clone()).expose("0").validate().is_err());
        assert!(ImageOptions::new(p.clone()).expose("53/udp").expose("80").validate().is_ok());
        let mut o = ImageOptions::new(p);
        o.env("PATH=/x").env("A=1");
        assert_eq!(o.env, ["PATH=/x", "A=1"]);
    }
}
