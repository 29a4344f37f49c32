//! The storage root: a local folder by default, or any object store by URL
//! (`s3://`, `az://`/`abfss://`, `gs://`, `memory://`), credentials from the
//! store's usual environment variables. Everything else addresses data through
//! this: landing files, quarantine, the lake's tables, outputs and run records.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use deltalake::DeltaTable;
use futures::TryStreamExt;
use object_store::path::Path as ObjPath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload};
use url::Url;

use crate::error::{Error, Result};

#[derive(Clone, Debug)]
pub struct Storage {
    /// The store, with `/` at the root of the bucket or file system.
    pub store: Arc<dyn ObjectStore>,
    /// URL of the storage root (always ends with `/`).
    pub root_url: Url,
    /// The storage root as a path within `store`.
    pub prefix: ObjPath,
}

/// A landing file as listed.
#[derive(Debug, Clone)]
pub struct LandingFile {
    /// Path relative to `landing/<source>/`.
    pub relative: String,
    pub location: ObjPath,
    pub size: u64,
    pub last_modified: chrono::DateTime<chrono::Utc>,
    /// A local file whose name is not UTF-8 text: `relative` is its name with the
    /// bad bytes replaced (for messages), and this is where it really is. Such a
    /// file is refused by name; object stores only hold UTF-8 names.
    pub bad_name: Option<PathBuf>,
}

/// A local copy (or the original, for local storage) of a file to read.
pub enum LocalFile {
    Direct(PathBuf),
    Temp(tempfile::NamedTempFile),
}

impl LocalFile {
    pub fn path(&self) -> &Path {
        match self {
            LocalFile::Direct(p) => p,
            LocalFile::Temp(t) => t.path(),
        }
    }
}

/// delta-rs's default log store (commits by put-if-absent, which S3, Azure and
/// GCS all support natively) for the cloud schemes, whose store we build ourselves.
struct PutIfAbsentLogStores;

impl deltalake::logstore::LogStoreFactory for PutIfAbsentLogStores {
    fn with_options(
        &self,
        prefixed_store: deltalake::logstore::ObjectStoreRef,
        root_store: deltalake::logstore::ObjectStoreRef,
        location: &Url,
        options: &deltalake::logstore::StorageConfig,
    ) -> deltalake::DeltaResult<Arc<dyn deltalake::logstore::LogStore>> {
        Ok(deltalake::logstore::default_logstore(
            prefixed_store,
            root_store,
            location,
            options,
        ))
    }
}

fn register_delta_schemes() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let reg = deltalake::logstore::logstore_factories();
        for scheme in ["s3://", "s3a://", "az://", "abfs://", "abfss://", "gs://"] {
            let url = Url::parse(scheme).expect("valid scheme url");
            if !reg.contains_key(&url) {
                reg.insert(url, Arc::new(PutIfAbsentLogStores));
            }
        }
    });
}

impl Storage {
    /// Open the storage root named in `startwell.toml` (a path relative to the project, or a URL).
    pub fn open(project_dir: &Path, root: &str) -> Result<Storage> {
        register_delta_schemes();
        let as_url = Url::parse(root).ok().filter(|u| u.scheme().len() > 1);
        match as_url {
            None => {
                let abs = if Path::new(root).is_absolute() {
                    PathBuf::from(root)
                } else {
                    project_dir.join(root)
                };
                std::fs::create_dir_all(&abs).map_err(|e| Error::storage(abs.display().to_string(), e))?;
                let abs = abs
                    .canonicalize()
                    .map_err(|e| Error::storage(abs.display().to_string(), e))?;
                let url = Url::from_directory_path(&abs)
                    .map_err(|_| Error::storage_lasting(abs.display().to_string(), "not an absolute path"))?;
                let store = object_store::local::LocalFileSystem::new();
                Ok(Storage::from_parts(Arc::new(store), url))
            }
            Some(url) => {
                let mut url = url;
                if !url.path().ends_with('/') {
                    url.set_path(&format!("{}/", url.path()));
                }
                let store: Arc<dyn ObjectStore> = match url.scheme() {
                    "memory" => Arc::new(object_store::memory::InMemory::new()),
                    "file" => Arc::new(object_store::local::LocalFileSystem::new()),
                    "s3" | "s3a" => Arc::new(
                        object_store::aws::AmazonS3Builder::from_env()
                            .with_url(url.as_str())
                            .build()
                            .map_err(|e| Error::storage_lasting(url.as_str(), e))?,
                    ),
                    "az" | "abfs" | "abfss" | "azure" => Arc::new(
                        object_store::azure::MicrosoftAzureBuilder::from_env()
                            .with_url(url.as_str())
                            .build()
                            .map_err(|e| Error::storage_lasting(url.as_str(), e))?,
                    ),
                    "gs" => Arc::new(
                        object_store::gcp::GoogleCloudStorageBuilder::from_env()
                            .with_url(url.as_str())
                            .build()
                            .map_err(|e| Error::storage_lasting(url.as_str(), e))?,
                    ),
                    other => {
                        return Err(Error::storage_lasting(
                            url.as_str(),
                            format!(
                                "unsupported scheme `{other}` (use a path, s3://, az://, gs:// or memory://)"
                            ),
                        ));
                    }
                };
                Ok(Storage::from_parts(store, url))
            }
        }
    }

    /// A storage root on a given store (tests use `InMemory`).
    pub fn from_parts(store: Arc<dyn ObjectStore>, root_url: Url) -> Storage {
        register_delta_schemes();
        let prefix = ObjPath::from_url_path(root_url.path()).unwrap_or_default();
        Storage {
            store,
            root_url,
            prefix,
        }
    }

    /// The object path of `rel` (a `/`-separated path under the root).
    pub fn path(&self, rel: &str) -> ObjPath {
        let mut p = self.prefix.clone();
        for part in rel.split('/').filter(|s| !s.is_empty()) {
            p = p.clone().join(part);
        }
        p
    }

    /// Display form of a location under the root (for messages).
    pub fn display(&self, rel: &str) -> String {
        format!("{}{}", self.root_url, rel)
    }

    /// The local file system path of the root, when the root is local.
    pub fn local_root(&self) -> Option<PathBuf> {
        (self.root_url.scheme() == "file")
            .then(|| self.root_url.to_file_path().ok())
            .flatten()
    }

    /// Files under `landing/<source>/`, oldest first (then by name).
    pub async fn list_landing(&self, source: &str) -> Result<Vec<LandingFile>> {
        let mut files = match self.local_root() {
            // The local store's listing stops at the first name that is not UTF-8:
            // walk the folder ourselves so one badly named file cannot hide the rest.
            Some(root) => {
                let dir = root.join("landing").join(source);
                let display = self.display(&format!("landing/{source}"));
                tokio::task::spawn_blocking(move || list_local(&dir))
                    .await
                    .map_err(Error::internal)?
                    .map_err(|e| Error::storage(display, e))?
            }
            None => self.list_store(source).await?,
        };
        files.retain(|f| {
            // Partners' tools leave lock and temp files: never read them.
            let name = f.relative.rsplit('/').next().unwrap_or(&f.relative);
            !(name.starts_with('.') || name.starts_with("~$"))
        });
        files.sort_by(|a, b| {
            a.last_modified
                .cmp(&b.last_modified)
                .then_with(|| a.relative.cmp(&b.relative))
        });
        Ok(files)
    }

    async fn list_store(&self, source: &str) -> Result<Vec<LandingFile>> {
        let base = self.path(&format!("landing/{source}"));
        let listed: Vec<ObjectMeta> =
            self.store
                .list(Some(&base))
                .try_collect()
                .await
                .or_else(|e| match e {
                    object_store::Error::NotFound { .. } => Ok(Vec::new()),
                    e => Err(Error::storage(self.display(&format!("landing/{source}")), e)),
                })?;
        let base_str = format!("{}/", base.as_ref());
        Ok(listed
            .into_iter()
            .filter_map(|m| {
                let rel = m.location.as_ref().strip_prefix(&base_str)?.to_string();
                Some(LandingFile {
                    relative: rel,
                    location: m.location,
                    size: m.size,
                    last_modified: m.last_modified,
                    bad_name: None,
                })
            })
            .collect())
    }

    /// A local path to read `location` from: the file itself on local storage,
    /// otherwise a streamed temporary copy (memory does not grow with file size).
    pub async fn local_copy(&self, location: &ObjPath) -> Result<LocalFile> {
        if let Some(root) = self.local_root() {
            let _ = root;
            let p = PathBuf::from(format!("/{}", location.as_ref()));
            return Ok(LocalFile::Direct(p));
        }
        let get = self
            .store
            .get(location)
            .await
            .map_err(|e| Error::storage(location.to_string(), e))?;
        let mut tmp = tempfile::NamedTempFile::new().map_err(Error::internal)?;
        let mut stream = get.into_stream();
        use std::io::Write;
        while let Some(chunk) = stream
            .try_next()
            .await
            .map_err(|e| Error::storage(location.to_string(), e))?
        {
            tmp.write_all(&chunk).map_err(Error::internal)?;
        }
        tmp.flush().map_err(Error::internal)?;
        Ok(LocalFile::Temp(tmp))
    }

    /// Write a whole object (atomic on every store: readers see the old or the new bytes).
    pub async fn put(&self, rel: &str, bytes: Bytes) -> Result<()> {
        self.store
            .put(&self.path(rel), PutPayload::from_bytes(bytes))
            .await
            .map_err(|e| Error::storage(self.display(rel), e))?;
        Ok(())
    }

    /// Create `rel` only if no object is there yet (atomic on every store):
    /// `Ok(false)` when another writer got there first.
    pub async fn put_if_absent(&self, rel: &str, bytes: Bytes) -> Result<bool> {
        let opts = object_store::PutOptions::from(object_store::PutMode::Create);
        match self
            .store
            .put_opts(&self.path(rel), PutPayload::from_bytes(bytes), opts)
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(Error::storage(self.display(rel), e)),
        }
    }

    /// Whether the store honours put-if-absent (a conditional PUT): the run lease
    /// and Delta's commits depend on it. A store that overwrites anyway is refused
    /// before a run does anything, rather than run unsafely.
    pub async fn check_put_if_absent(&self, run_id: &str) -> Result<()> {
        let rel = format!("state/probe/{run_id}");
        let first = self.put_if_absent(&rel, Bytes::from_static(b"probe")).await;
        let second = match first {
            Ok(_) => self.put_if_absent(&rel, Bytes::from_static(b"probe")).await,
            Err(_) => Ok(true),
        };
        let _ = self.delete(&rel).await;
        if first? && !second? {
            return Ok(());
        }
        Err(Error::storage_lasting(
            self.display(""),
            "the store does not honour put-if-absent (a create-only PUT replaced an object that was already \
             there): the run lease and Delta's commits rely on it, so two runs could overlap and commits could \
             be lost. Nothing was run. Use a store that supports conditional writes (S3, Azure Blob, GCS, MinIO, \
             a local folder)",
        ))
    }

    /// Remove `rel` (no error when it is already gone).
    pub async fn delete(&self, rel: &str) -> Result<()> {
        match self.store.delete(&self.path(rel)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(Error::storage(self.display(rel), e)),
        }
    }

    /// Whether the store answers: lists the root's first level.
    pub async fn reachable(&self) -> Result<()> {
        self.store
            .list_with_delimiter(Some(&self.prefix))
            .await
            .map(|_| ())
            .or_else(|e| match e {
                object_store::Error::NotFound { .. } => Ok(()),
                e => Err(Error::storage(self.display(""), e)),
            })
    }

    /// Whether an object is at `rel` (without reading it).
    pub async fn exists(&self, rel: &str) -> Result<bool> {
        match self.store.head(&self.path(rel)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(Error::storage(self.display(rel), e)),
        }
    }

    pub async fn get(&self, rel: &str) -> Result<Option<Bytes>> {
        match self.store.get(&self.path(rel)).await {
            Ok(g) => Ok(Some(
                g.bytes()
                    .await
                    .map_err(|e| Error::storage(self.display(rel), e))?,
            )),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(Error::storage(self.display(rel), e)),
        }
    }

    /// Every object under `rel`.
    pub async fn list(&self, rel: &str) -> Result<Vec<ObjectMeta>> {
        self.store
            .list(Some(&self.path(rel)))
            .try_collect()
            .await
            .map_err(|e| Error::storage(self.display(rel), e))
    }

    pub fn table_url(&self, table: &str) -> Url {
        self.root_url
            .join(&format!("lake/{table}/"))
            .expect("table names are valid URL segments")
    }

    /// The Delta table `lake/<table>` (not yet created when it has no version).
    /// The names of the tables under `lake/` (each a folder), sorted.
    pub async fn lake_tables(&self) -> Result<Vec<String>> {
        let listing = self
            .store
            .list_with_delimiter(Some(&self.path("lake")))
            .await
            .map_err(|e| Error::storage(self.display("lake/"), e))?;
        let mut names: Vec<String> = listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .collect();
        names.sort();
        Ok(names)
    }

    pub async fn table(&self, table: &str) -> Result<DeltaTable> {
        let url = self.table_url(table);
        let mut t = deltalake::DeltaTableBuilder::from_url(url.clone())?
            .with_storage_backend(self.store.clone(), url)
            .build()?;
        // A table that was never committed has no log yet: return it unloaded.
        let log = self.path(&format!("lake/{table}/_delta_log"));
        let has_log = self
            .store
            .list(Some(&log))
            .try_next()
            .await
            .map_err(|e| Error::storage(self.display(&format!("lake/{table}")), e))?
            .is_some();
        if !has_log {
            return Ok(t);
        }
        match t.load().await {
            Ok(()) | Err(deltalake::DeltaTableError::NotATable(_)) => Ok(t),
            Err(e) => Err(e.into()),
        }
    }
}

/// Stream a local file to `rel` under the root (multipart on object stores).
pub async fn upload_file(storage: &Storage, local: &Path, rel: &str) -> Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut src = tokio::fs::File::open(local).await.map_err(Error::internal)?;
    let mut dst = object_store::buffered::BufWriter::new(storage.store.clone(), storage.path(rel));
    tokio::io::copy(&mut src, &mut dst)
        .await
        .map_err(|e| Error::storage(storage.display(rel), e))?;
    dst.shutdown()
        .await
        .map_err(|e| Error::storage(storage.display(rel), e))?;
    Ok(())
}

/// Every file below `dir` (none when it does not exist), as the local store would
/// list it, plus the files whose names are not UTF-8 (see [`LandingFile::bad_name`]).
fn list_local(dir: &Path) -> std::io::Result<Vec<LandingFile>> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    // Links are followed: a folder reached twice (a link cycle) is walked once.
    let mut seen = std::collections::HashSet::new();
    while let Some((d, rel)) = stack.pop() {
        if !seen.insert(std::fs::canonicalize(&d).unwrap_or_else(|_| d.clone())) {
            continue;
        }
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for e in entries {
            let e = e?;
            let path = e.path();
            let name = e.file_name();
            let shown = name.to_string_lossy().into_owned();
            let rel_name = if rel.is_empty() {
                shown.clone()
            } else {
                format!("{rel}/{shown}")
            };
            // Follow links as the store's own listing does; a link to nothing is skipped.
            let meta = match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    tracing::warn!(file = %path.display(), "landing entry is a link to nothing: skipped");
                    continue;
                }
                Err(e) => return Err(e),
            };
            if meta.is_dir() {
                stack.push((path, rel_name));
                continue;
            }
            // The store's own uploads in progress (`name#1`) are not files yet.
            if !meta.is_file()
                || shown
                    .rsplit_once('#')
                    .is_some_and(|(_, n)| n.bytes().all(|b| b.is_ascii_digit()))
            {
                continue;
            }
            let last_modified = meta
                .modified()
                .map(chrono::DateTime::<chrono::Utc>::from)
                .unwrap_or_default();
            // Not UTF-8 (here or in a folder above): no object path, refused by name.
            let location = path
                .to_str()
                .and_then(|_| ObjPath::from_absolute_path(&path).ok());
            out.push(LandingFile {
                relative: rel_name.clone(),
                location: location
                    .clone()
                    .unwrap_or_else(|| ObjPath::from(rel_name.as_str())),
                size: meta.len(),
                last_modified,
                bad_name: location.is_none().then_some(path),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An in-memory store that ignores create-only PUTs, like a store without
    /// conditional writes.
    #[derive(Debug)]
    struct Overwrites(object_store::memory::InMemory);

    impl std::fmt::Display for Overwrites {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "Overwrites")
        }
    }

    #[async_trait::async_trait]
    impl ObjectStore for Overwrites {
        async fn put_opts(
            &self,
            location: &ObjPath,
            payload: PutPayload,
            _opts: object_store::PutOptions,
        ) -> object_store::Result<object_store::PutResult> {
            self.0.put_opts(location, payload, Default::default()).await
        }
        async fn put_multipart_opts(
            &self,
            location: &ObjPath,
            opts: object_store::PutMultipartOptions,
        ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
            self.0.put_multipart_opts(location, opts).await
        }
        async fn get_opts(
            &self,
            location: &ObjPath,
            options: object_store::GetOptions,
        ) -> object_store::Result<object_store::GetResult> {
            self.0.get_opts(location, options).await
        }
        fn delete_stream(
            &self,
            locations: futures::stream::BoxStream<'static, object_store::Result<ObjPath>>,
        ) -> futures::stream::BoxStream<'static, object_store::Result<ObjPath>> {
            self.0.delete_stream(locations)
        }
        fn list(
            &self,
            prefix: Option<&ObjPath>,
        ) -> futures::stream::BoxStream<'static, object_store::Result<ObjectMeta>> {
            self.0.list(prefix)
        }
        async fn list_with_delimiter(
            &self,
            prefix: Option<&ObjPath>,
        ) -> object_store::Result<object_store::ListResult> {
            self.0.list_with_delimiter(prefix).await
        }
        async fn copy_opts(
            &self,
            from: &ObjPath,
            to: &ObjPath,
            options: object_store::CopyOptions,
        ) -> object_store::Result<()> {
            self.0.copy_opts(from, to, options).await
        }
    }

    #[tokio::test]
    async fn a_store_without_conditional_writes_is_refused() {
        let url = Url::parse("memory://probe/").unwrap();
        let good = Storage::from_parts(Arc::new(object_store::memory::InMemory::new()), url.clone());
        good.check_put_if_absent("r1").await.unwrap();
        assert!(
            good.list("state/probe").await.unwrap().is_empty(),
            "the probe is removed"
        );
        let bad = Storage::from_parts(Arc::new(Overwrites(object_store::memory::InMemory::new())), url);
        let err = bad.check_put_if_absent("r1").await.unwrap_err();
        assert!(err.to_string().contains("does not honour put-if-absent"), "{err}");
        assert!(!err.is_transient());
    }

    #[test]
    fn local_listing_survives_link_cycles_dangling_links_and_bad_names() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("sub")).unwrap();
        std::fs::write(d.join("a.csv"), b"x").unwrap();
        std::fs::write(d.join("sub/b.csv"), b"yy").unwrap();
        std::fs::write(d.join(std::ffi::OsStr::from_bytes(b"c\xff.csv")), b"z").unwrap();
        std::os::unix::fs::symlink(d, d.join("sub/loop")).unwrap();
        std::os::unix::fs::symlink(d.join("missing.csv"), d.join("dangling.csv")).unwrap();
        let mut got: Vec<(String, u64, bool)> = list_local(d)
            .unwrap()
            .into_iter()
            .map(|f| (f.relative, f.size, f.bad_name.is_some()))
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("a.csv".to_string(), 1, false),
                ("c\u{fffd}.csv".to_string(), 1, true),
                ("sub/b.csv".to_string(), 2, false),
            ]
        );
    }
}
