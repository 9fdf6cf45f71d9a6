// TLS material for the gRPC server: either operator-provided PEM files or a
// private CA and server certificate that Vigil generates once and then reuses.
//
// Both functions are thread-safe as long as concurrent callers use different
// directories; concurrent EnsureGeneratedTls calls on the same empty directory
// are safe too (exactly one wins, the others get Aborted and may retry).
#ifndef VIGIL_SERVER_OPS_TLS_BOOTSTRAP_H_
#define VIGIL_SERVER_OPS_TLS_BOOTSTRAP_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace vigil::server {

// PEM material the gRPC server is configured with.
struct TlsMaterial {
  // Leaf certificate first, optionally followed by its chain.
  std::string server_cert_pem;
  // Unencrypted private key matching the leaf certificate.
  std::string server_key_pem;
  // Path of the CA that signed the server certificate when it lives in a
  // directory managed by EnsureGeneratedTls (set whether or not this call
  // created it, so clients can be pointed at it). Empty for LoadTlsFiles.
  std::string ca_cert_path;
  // True when this call created the files.
  bool generated = false;
};

// Ensures `tls_dir` holds ca.crt, ca.key, server.crt and server.key.
//
// When none of the four exist: creates `tls_dir` (mode 0700; an existing
// directory is used as is), generates a private ECDSA P-256 CA valid for 10
// years and an ECDSA P-256 server certificate it signs, valid for 825 days,
// both backdated by one hour to tolerate clock skew. The server certificate
// covers DNS:localhost, IP:127.0.0.1, IP:::1 and every entry of `extra_hosts`
// (IP literals become IP SANs, anything else a DNS SAN). Keys are written with
// mode 0600, certificates with 0644, each durably (temp file, fsync, rename).
// Returns generated=true.
//
// When all four exist: loads server.crt and server.key and returns them with
// generated=false; `extra_hosts` is then NOT applied (delete the directory to
// regenerate).
//
// Errors:
//   InvalidArgument     an `extra_hosts` entry is neither an IP literal nor a
//                       valid DNS name (checked before anything is touched).
//   FailedPrecondition  only some of the four files exist (the message lists
//                       the missing ones; nothing is overwritten), or the
//                       stored server certificate is expired / not yet valid.
//   DataLoss            a stored file cannot be read, is not parseable PEM,
//                       or server.key does not match server.crt.
//   PermissionDenied    a file or the directory is not accessible.
//   Aborted             another process generated the files concurrently.
//   Other codes         I/O or OpenSSL failures while generating.
// Every error message names the file involved.
absl::StatusOr<TlsMaterial> EnsureGeneratedTls(
    const std::string& tls_dir,
    const std::vector<std::string>& extra_hosts = {});

// Loads an operator-provided certificate chain (leaf first) and unencrypted
// private key from PEM files, checking that the key matches the leaf and that
// the leaf is currently within its validity period.
//
// Errors (the message names the file):
//   NotFound            a file does not exist.
//   PermissionDenied    a file is not readable.
//   InvalidArgument     a file is not parseable PEM (including encrypted
//                       keys), or the key does not match the certificate.
//   FailedPrecondition  the certificate is expired or not yet valid.
absl::StatusOr<TlsMaterial> LoadTlsFiles(const std::string& cert_file,
                                         const std::string& key_file);

struct ClientCertificate {
  std::string cert_pem;
  std::string key_pem;
};

// Issues a client certificate (ECDSA P-256, clientAuth, valid 825 days) for a
// device, signed by the private CA that EnsureGeneratedTls keeps in
// `tls_dir`. With `tls_client_ca` set to TLS_DIR/ca.crt, vigild then accepts
// only TLS clients holding such a certificate: a second factor beside the
// device token. NotFound when `tls_dir` holds no generated CA;
// InvalidArgument for an empty or over-long name.
absl::StatusOr<ClientCertificate> IssueClientCertificate(const std::string& tls_dir,
                                                         const std::string& device_name);

}  // namespace vigil::server

#endif  // VIGIL_SERVER_OPS_TLS_BOOTSTRAP_H_
