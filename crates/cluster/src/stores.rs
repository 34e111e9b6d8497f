//! The object stores of a ledger URL, the same in the client, the scheduler and every
//! executor.

use std::sync::Arc;

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use object_store::ObjectStore;
use url::Url;

/// DataFusion's registry (local files, and stores registered by hand), plus Azure Blob
/// containers (`az://CONTAINER`) and S3 buckets (`s3://BUCKET`) built on first use from
/// this process's environment, as `keytrail` opens a ledger. A query names only the
/// container; the credentials stay with the process that reads it.
#[derive(Debug, Default)]
pub struct LedgerStores {
    known: DefaultObjectStoreRegistry,
}

impl LedgerStores {
    fn build(url: &Url) -> Result<Arc<dyn ObjectStore>> {
        let name = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| DataFusionError::Configuration(format!("object store URL {url} names no container or bucket")))?;
        let store: Arc<dyn ObjectStore> = match url.scheme() {
            "az" | "azure" => Arc::new(object_store::azure::MicrosoftAzureBuilder::from_env().with_container_name(name).build()?),
            "s3" | "s3a" => Arc::new(object_store::aws::AmazonS3Builder::from_env().with_bucket_name(name).build()?),
            other => {
                return Err(DataFusionError::Configuration(format!(
                    "object store URL {url}: scheme {other:?} is not one keytrail reads a ledger from on a cluster (file://, az://, s3://)"
                )));
            }
        };
        Ok(store)
    }
}

impl ObjectStoreRegistry for LedgerStores {
    fn register_store(&self, url: &Url, store: Arc<dyn ObjectStore>) -> Option<Arc<dyn ObjectStore>> {
        self.known.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.known.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        if let Ok(store) = self.known.get_store(url) {
            return Ok(store);
        }
        let store = Self::build(url)?;
        self.known.register_store(url, store.clone());
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_files_resolve_and_unknown_schemes_are_named() {
        let stores = LedgerStores::default();
        assert!(stores.get_store(&Url::parse("file:///").unwrap()).is_ok());
        let e = stores.get_store(&Url::parse("ftp://host/").unwrap()).unwrap_err().to_string();
        assert!(e.contains("ftp") && e.contains("az://"), "{e}");
    }
}
