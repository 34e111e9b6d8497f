//! A real S3 endpoint for tests: moto's server (`moto_server`), in memory, on a free
//! loopback port.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The region every test bucket is in.
const REGION: &str = "us-east-1";
const ACCESS_KEY_ID: &str = "keytrail-test";
/// The secret access key the tests use (a credential in form: tests check it never
/// reaches output).
pub const SECRET_ACCESS_KEY: &str = "keytrail-test-secret";

/// A `moto_server` process, killed on drop.
pub struct S3Server {
    child: Child,
    port: u16,
}

impl S3Server {
    /// Starts moto's S3. Looks for `moto_server` in `$MOTO_SERVER`, the virtual environment
    /// `scripts/test` makes (`target/moto-venv`), then `PATH`; panics with how to install it
    /// when absent.
    pub fn start() -> Self {
        let bin =
            find_binary().unwrap_or_else(|| panic!("moto_server not found: run scripts/test (it installs moto into target/moto-venv) or set MOTO_SERVER"));
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let server = Self { child, port };
        crate::wait_until_listening(port, "moto_server", 60);
        server
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Environment that points `object_store`'s S3 backend at this server, with test
    /// credentials (moto accepts any).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT", self.url()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.into()),
            ("AWS_REGION", REGION.into()),
        ]
    }

    /// A client for one bucket, with the same credentials.
    pub fn store(&self, bucket: &str) -> object_store::aws::AmazonS3 {
        object_store::aws::AmazonS3Builder::new()
            .with_endpoint(self.url())
            .with_allow_http(true)
            .with_access_key_id(ACCESS_KEY_ID)
            .with_secret_access_key(SECRET_ACCESS_KEY)
            .with_region(REGION)
            .with_bucket_name(bucket)
            .build()
            .expect("an S3 client")
    }

    /// Creates a bucket (CreateBucket; moto does not check signatures).
    pub fn create_bucket(&self, name: &str) {
        let request = format!("PUT /{name} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", self.port);
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "CreateBucket {name}: {response}");
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_binary() -> Option<PathBuf> {
    crate::find_tool("MOTO_SERVER", "target/moto-venv/bin/moto_server", "moto_server")
}
