use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Azurite's fixed development account.
pub const ACCOUNT: &str = "devstoreaccount1";
/// Azurite's fixed development account key (public, but a credential in form: tests
/// check it never reaches output).
pub const ACCOUNT_KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// An `azurite-blob` process on a free loopback port, in memory, killed on drop.
pub struct Azurite {
    child: Child,
    port: u16,
}

impl Azurite {
    /// Starts Azurite. Looks for `azurite-blob` in `$AZURITE_BLOB`, the workspace's
    /// `node_modules/.bin`, then `PATH`; panics with how to install it when absent.
    pub fn start() -> Self {
        let bin = find_binary().unwrap_or_else(|| panic!("azurite-blob not found: run `npm install` in the repository (see README) or set AZURITE_BLOB"));
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(bin)
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .args(["--disableTelemetry", "--inMemoryPersistence", "--silent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start azurite-blob");
        let azurite = Self { child, port };
        crate::wait_until_listening(port, "azurite-blob", 30);
        azurite
    }

    /// `http://127.0.0.1:<port>`: the value for `AZURITE_BLOB_STORAGE_URL`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Environment that points `object_store`'s Azure backend at this Azurite.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![("AZURE_STORAGE_USE_EMULATOR", "true".into()), ("AZURITE_BLOB_STORAGE_URL", self.url()), ("AZURE_STORAGE_ACCOUNT_NAME", ACCOUNT.into())]
    }

    /// A client for one container, with the development account's key.
    pub fn store(&self, container: &str) -> object_store::azure::MicrosoftAzure {
        object_store::azure::MicrosoftAzureBuilder::new()
            .with_account(ACCOUNT)
            .with_access_key(ACCOUNT_KEY)
            .with_container_name(container)
            .with_endpoint(format!("{}/{ACCOUNT}", self.url()))
            .with_allow_http(true)
            .build()
            .expect("an Azurite client")
    }

    /// Creates a container (Create Container REST call, SharedKey-signed).
    pub fn create_container(&self, name: &str) {
        let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let version = "2021-08-06";
        let string_to_sign = format!("PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n/{ACCOUNT}/{ACCOUNT}/{name}\nrestype:container");
        let mut mac = Hmac::<Sha256>::new_from_slice(&B64.decode(ACCOUNT_KEY).unwrap()).unwrap();
        mac.update(string_to_sign.as_bytes());
        let signature = B64.encode(mac.finalize().into_bytes());
        let request = format!(
            "PUT /{ACCOUNT}/{name}?restype=container HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nx-ms-date: {date}\r\nx-ms-version: {version}\r\nAuthorization: SharedKey {ACCOUNT}:{signature}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 201"), "creating container {name} failed: {response}");
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_binary() -> Option<PathBuf> {
    crate::find_tool("AZURITE_BLOB", "node_modules/.bin/azurite-blob", "azurite-blob")
}
