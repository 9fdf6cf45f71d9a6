#include "server/ops/tls_bootstrap.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"

namespace vigil::server {
namespace {

template <auto kFree>
struct OpenSslDeleter {
  template <typename T>
  void operator()(T* p) const {
    kFree(p);
  }
};
using BigNumPtr = std::unique_ptr<BIGNUM, OpenSslDeleter<BN_free>>;
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free_all>>;
using ExtensionPtr =
    std::unique_ptr<X509_EXTENSION, OpenSslDeleter<X509_EXTENSION_free>>;
using NamePtr = std::unique_ptr<X509_NAME, OpenSslDeleter<X509_NAME_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509_free>>;

constexpr char kCaCert[] = "ca.crt";
constexpr char kCaKey[] = "ca.key";
constexpr char kServerCert[] = "server.crt";
constexpr char kServerKey[] = "server.key";
// Tolerates clients whose clocks run a little behind ours.
constexpr long kBackdateSeconds = 3600;
constexpr int kCaValidDays = 3650;
// Apple platforms reject TLS server certificates valid for longer than this,
// even from private CAs.
constexpr int kServerValidDays = 825;
// Certificates and keys are small; the cap stops a misconfigured path such as
// /dev/zero from exhausting memory.
constexpr size_t kMaxPemBytes = 1 << 20;

// Drains the OpenSSL error queue so that a stale entry is never blamed for a
// later, unrelated failure; the earliest entry is the root cause.
absl::Status OpenSslError(absl::StatusCode code, absl::string_view what) {
  const unsigned long err = ERR_get_error();
  ERR_clear_error();
  char reason[256] = "no OpenSSL error reported";
  if (err != 0) ERR_error_string_n(err, reason, sizeof(reason));
  return absl::Status(code, absl::StrCat(what, ": ", reason));
}

std::string JoinPath(const std::string& dir, absl::string_view name) {
  if (!dir.empty() && dir.back() == '/') return absl::StrCat(dir, name);
  return absl::StrCat(dir, "/", name);
}

std::string RandomHex(int bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), bytes);
  return absl::BytesToHexString(raw);
}

// `failure_code` applies to errors that mean the content is unusable rather
// than absent or forbidden.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path,
                                          absl::StatusCode failure_code) {
  auto error = [&](int err) {
    absl::StatusCode code = failure_code;
    if (err == ENOENT) code = absl::StatusCode::kNotFound;
    if (err == EACCES || err == EPERM)
      code = absl::StatusCode::kPermissionDenied;
    return absl::Status(
        code, absl::StrCat("cannot read ", path, ": ", std::strerror(err)));
  };
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return error(errno);
  absl::Cleanup close_fd = [fd] { close(fd); };
  std::string contents;
  char buf[8192];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return error(errno);
    if (n == 0) return contents;
    contents.append(buf, n);
    if (contents.size() > kMaxPemBytes) {
      return absl::Status(failure_code,
                          absl::StrCat(path, " is larger than ", kMaxPemBytes,
                                       " bytes; not a PEM file"));
    }
  }
}

// Creates `path` exclusively with `mode` so a key is never readable by others,
// not even briefly, and makes its contents durable before returning.
absl::Status WriteNewFileSynced(const std::string& path,
                                absl::string_view contents, mode_t mode) {
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("create ", path));
  absl::Cleanup close_fd = [fd] { close(fd); };
  while (!contents.empty()) {
    const ssize_t n = write(fd, contents.data(), contents.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, absl::StrCat("write ", path));
    contents.remove_prefix(n);
  }
  if (fsync(fd) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("fsync ", path));
  }
  return absl::OkStatus();
}

absl::Status SyncDirectory(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", dir));
  absl::Cleanup close_fd = [fd] { close(fd); };
  if (fsync(fd) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("fsync ", dir));
  }
  return absl::OkStatus();
}

// Refuses to replace an existing file, so two processes generating into the
// same directory can never leave a mix of their CAs and certificates.
absl::Status RenameNoReplace(const std::string& from, const std::string& to) {
  int rc =
      renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE);
  // Some filesystems lack RENAME_NOREPLACE; link() has the same no-replace
  // guarantee (the temp name is unlinked by the caller).
  if (rc != 0 && errno == EINVAL) rc = link(from.c_str(), to.c_str());
  if (rc == 0) return absl::OkStatus();
  if (errno == EEXIST) {
    return absl::AbortedError(absl::StrCat(
        to, " was created concurrently by another process; retry"));
  }
  return absl::ErrnoToStatus(errno, absl::StrCat("rename to ", to));
}

// Returns the subjectAltName value. Validating here keeps operator input from
// injecting extra entries (e.g. a comma) into the OpenSSL config string.
absl::StatusOr<std::string> SubjectAltName(
    const std::vector<std::string>& extra_hosts) {
  std::vector<std::string> names = {"DNS:localhost", "IP:127.0.0.1", "IP:::1"};
  for (const std::string& host : extra_hosts) {
    unsigned char addr[sizeof(in6_addr)];
    std::string name;
    if (inet_pton(AF_INET, host.c_str(), addr) == 1 ||
        inet_pton(AF_INET6, host.c_str(), addr) == 1) {
      name = absl::StrCat("IP:", host);
    } else {
      const bool valid =
          !host.empty() && host.size() <= 253 && host.front() != '.' &&
          host.front() != '-' &&
          std::all_of(host.begin(), host.end(), [](char c) {
            return absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '*';
          });
      if (!valid) {
        return absl::InvalidArgumentError(
            absl::StrCat("extra TLS host \"", host,
                         "\" is neither an IP address nor a valid DNS name"));
      }
      name = absl::StrCat("DNS:", host);
    }
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(std::move(name));
    }
  }
  return absl::StrJoin(names, ",");
}

absl::StatusOr<PkeyPtr> GenerateP256Key() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return OpenSslError(absl::StatusCode::kInternal, "EC keygen");
  return key;
}

// Issues a certificate for `subject_key`. A null `issuer` means self-signed.
absl::StatusOr<X509Ptr> IssueCertificate(
    EVP_PKEY* subject_key, const std::string& common_name, X509* issuer,
    EVP_PKEY* issuer_key, int valid_days,
    const std::vector<std::pair<int, std::string>>& extensions) {
  X509Ptr cert(X509_new());
  NamePtr name(X509_NAME_new());
  BigNumPtr serial(BN_new());
  if (!cert || !name || !serial) {
    return OpenSslError(absl::StatusCode::kResourceExhausted, "allocate");
  }
  const auto* cn = reinterpret_cast<const unsigned char*>(common_name.c_str());
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      BN_rand(serial.get(), 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) ==
          nullptr ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds) ==
          nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), valid_days,
                       -kBackdateSeconds, nullptr) == nullptr ||
      X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8, cn, -1, -1,
                                 0) != 1 ||
      X509_set_subject_name(cert.get(), name.get()) != 1 ||
      X509_set_issuer_name(cert.get(), issuer != nullptr
                                           ? X509_get_subject_name(issuer)
                                           : name.get()) != 1 ||
      X509_set_pubkey(cert.get(), subject_key) != 1) {
    return OpenSslError(absl::StatusCode::kInternal,
                        absl::StrCat("build certificate ", common_name));
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : cert.get(), cert.get(),
                 nullptr, nullptr, 0);
  for (const auto& [nid, value] : extensions) {
    ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    if (!ext || X509_add_ext(cert.get(), ext.get(), -1) != 1) {
      return OpenSslError(
          absl::StatusCode::kInternal,
          absl::StrCat("add extension ", OBJ_nid2sn(nid), "=", value));
    }
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) {
    return OpenSslError(absl::StatusCode::kInternal,
                        absl::StrCat("sign certificate ", common_name));
  }
  return cert;
}

template <typename WriteFn>
absl::StatusOr<std::string> ToPem(WriteFn write) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "PEM encoding");
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size);
}

// Never prompts: without this, OpenSSL would block reading a passphrase for an
// encrypted key from the terminal.
int NoPassphrase(char*, int, int, void*) { return -1; }

// Parses and checks a chain/key pair; `garbled_code` distinguishes an operator
// mistake (InvalidArgument) from corruption of files Vigil wrote (DataLoss).
absl::StatusOr<TlsMaterial> LoadAndCheck(const std::string& cert_file,
                                         const std::string& key_file,
                                         absl::StatusCode garbled_code) {
  ERR_clear_error();
  TlsMaterial material;
  ASSIGN_OR_RETURN(material.server_cert_pem,
                   ReadSmallFile(cert_file, garbled_code));
  ASSIGN_OR_RETURN(material.server_key_pem,
                   ReadSmallFile(key_file, garbled_code));

  BioPtr cert_bio(BIO_new_mem_buf(material.server_cert_pem.data(),
                                  material.server_cert_pem.size()));
  BioPtr key_bio(BIO_new_mem_buf(material.server_key_pem.data(),
                                 material.server_key_pem.size()));
  if (!cert_bio || !key_bio) {
    return OpenSslError(absl::StatusCode::kResourceExhausted, "allocate BIO");
  }
  X509Ptr leaf(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!leaf) {
    return OpenSslError(garbled_code,
                        absl::StrCat(cert_file, " has no PEM certificate"));
  }
  // The rest of the chain must parse too, or the server would fail later
  // with a less helpful error.
  X509Ptr next;
  do {
    next.reset(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  } while (next != nullptr);
  const unsigned long end_of_chain = ERR_peek_last_error();
  if (ERR_GET_LIB(end_of_chain) != ERR_LIB_PEM ||
      ERR_GET_REASON(end_of_chain) != PEM_R_NO_START_LINE) {
    return OpenSslError(garbled_code,
                        absl::StrCat(cert_file, " has a garbled chain"));
  }
  ERR_clear_error();

  PkeyPtr key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, NoPassphrase, nullptr));
  if (!key) {
    return OpenSslError(
        garbled_code,
        absl::StrCat(key_file, " has no unencrypted PEM private key"));
  }
  if (X509_check_private_key(leaf.get(), key.get()) != 1) {
    return OpenSslError(
        garbled_code, absl::StrCat("private key ", key_file,
                                   " does not match certificate ", cert_file));
  }
  if (X509_cmp_current_time(X509_get0_notBefore(leaf.get())) > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("certificate ", cert_file, " is not yet valid"));
  }
  if (X509_cmp_current_time(X509_get0_notAfter(leaf.get())) < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("certificate ", cert_file, " has expired"));
  }
  return material;
}

absl::StatusOr<TlsMaterial> Generate(const std::string& tls_dir,
                                     const std::string& subject_alt_name) {
  if (mkdir(tls_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::ErrnoToStatus(errno, absl::StrCat("create ", tls_dir));
  }
  ASSIGN_OR_RETURN(PkeyPtr ca_key, GenerateP256Key());
  ASSIGN_OR_RETURN(
      X509Ptr ca_cert,
      IssueCertificate(ca_key.get(),
                       absl::StrCat("Vigil private CA ", RandomHex(4)),
                       /*issuer=*/nullptr, ca_key.get(), kCaValidDays,
                       {{NID_basic_constraints, "critical,CA:TRUE"},
                        {NID_key_usage, "critical,keyCertSign,cRLSign"},
                        {NID_subject_key_identifier, "hash"}}));
  ASSIGN_OR_RETURN(PkeyPtr server_key, GenerateP256Key());
  ASSIGN_OR_RETURN(
      X509Ptr server_cert,
      IssueCertificate(server_key.get(), "Vigil server", ca_cert.get(),
                       ca_key.get(), kServerValidDays,
                       {{NID_basic_constraints, "critical,CA:FALSE"},
                        {NID_key_usage, "critical,digitalSignature"},
                        {NID_ext_key_usage, "serverAuth"},
                        {NID_subject_alt_name, subject_alt_name},
                        {NID_subject_key_identifier, "hash"},
                        {NID_authority_key_identifier, "keyid:always"}}));

  auto key_pem = [](EVP_PKEY* key) {
    return ToPem([key](BIO* bio) {
      return PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr,
                                      nullptr);
    });
  };
  auto cert_pem = [](X509* cert) {
    return ToPem([cert](BIO* bio) { return PEM_write_bio_X509(bio, cert); });
  };
  TlsMaterial material;
  material.generated = true;
  material.ca_cert_path = JoinPath(tls_dir, kCaCert);
  ASSIGN_OR_RETURN(material.server_cert_pem, cert_pem(server_cert.get()));
  ASSIGN_OR_RETURN(material.server_key_pem, key_pem(server_key.get()));
  ASSIGN_OR_RETURN(std::string ca_cert_pem, cert_pem(ca_cert.get()));
  ASSIGN_OR_RETURN(std::string ca_key_pem, key_pem(ca_key.get()));

  struct FileToWrite {
    const char* name;
    const std::string& contents;
    mode_t mode;
  };
  const FileToWrite files[] = {{kCaKey, ca_key_pem, 0600},
                               {kCaCert, ca_cert_pem, 0644},
                               {kServerKey, material.server_key_pem, 0600},
                               {kServerCert, material.server_cert_pem, 0644}};
  // Everything is written before anything is renamed, which keeps the window
  // for leaving a partial set (after a crash) as small as possible.
  const std::string suffix = absl::StrCat(".tmp-", RandomHex(8));
  std::vector<std::string> temps;
  absl::Cleanup remove_temps = [&temps] {
    for (const std::string& temp : temps) unlink(temp.c_str());
  };
  for (const FileToWrite& file : files) {
    temps.push_back(JoinPath(tls_dir, file.name) + suffix);
    RETURN_IF_ERROR(WriteNewFileSynced(temps.back(), file.contents, file.mode));
  }
  for (size_t i = 0; i < temps.size(); ++i) {
    RETURN_IF_ERROR(
        RenameNoReplace(temps[i], JoinPath(tls_dir, files[i].name)));
  }
  RETURN_IF_ERROR(SyncDirectory(tls_dir));
  return material;
}

}  // namespace

absl::StatusOr<TlsMaterial> EnsureGeneratedTls(
    const std::string& tls_dir, const std::vector<std::string>& extra_hosts) {
  ASSIGN_OR_RETURN(std::string subject_alt_name, SubjectAltName(extra_hosts));
  std::vector<std::string> missing;
  for (const char* name : {kCaCert, kCaKey, kServerCert, kServerKey}) {
    const std::string path = JoinPath(tls_dir, name);
    struct stat st;
    if (stat(path.c_str(), &st) == 0) continue;
    if (errno != ENOENT) {
      return absl::ErrnoToStatus(errno, absl::StrCat("stat ", path));
    }
    missing.push_back(name);
  }
  if (missing.empty()) {
    ASSIGN_OR_RETURN(TlsMaterial material,
                     LoadAndCheck(JoinPath(tls_dir, kServerCert),
                                  JoinPath(tls_dir, kServerKey),
                                  absl::StatusCode::kDataLoss));
    material.ca_cert_path = JoinPath(tls_dir, kCaCert);
    return material;
  }
  if (missing.size() < 4) {
    return absl::FailedPreconditionError(absl::StrCat(
        tls_dir, " holds an incomplete TLS set (missing ",
        absl::StrJoin(missing, ", "),
        "); refusing to overwrite it: restore the files or delete the "
        "directory to regenerate"));
  }
  ERR_clear_error();
  return Generate(tls_dir, subject_alt_name);
}

absl::StatusOr<TlsMaterial> LoadTlsFiles(const std::string& cert_file,
                                         const std::string& key_file) {
  return LoadAndCheck(cert_file, key_file, absl::StatusCode::kInvalidArgument);
}

absl::StatusOr<ClientCertificate> IssueClientCertificate(const std::string& tls_dir,
                                                         const std::string& device_name) {
  if (device_name.empty() || device_name.size() > 64) {
    return absl::InvalidArgumentError("a device certificate needs a name of 1..64 bytes");
  }
  ERR_clear_error();
  const std::string ca_cert_file = JoinPath(tls_dir, kCaCert);
  const std::string ca_key_file = JoinPath(tls_dir, kCaKey);
  struct stat st;
  if (stat(ca_key_file.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat(
        tls_dir, " holds no generated CA (", kCaKey,
        "): device certificates come from the CA vigild generates on its first start"));
  }
  ASSIGN_OR_RETURN(std::string ca_cert_pem, ReadSmallFile(ca_cert_file, absl::StatusCode::kDataLoss));
  ASSIGN_OR_RETURN(std::string ca_key_pem, ReadSmallFile(ca_key_file, absl::StatusCode::kDataLoss));
  BioPtr cert_bio(BIO_new_mem_buf(ca_cert_pem.data(), ca_cert_pem.size()));
  BioPtr key_bio(BIO_new_mem_buf(ca_key_pem.data(), ca_key_pem.size()));
  if (!cert_bio || !key_bio) {
    return OpenSslError(absl::StatusCode::kResourceExhausted, "allocate BIO");
  }
  X509Ptr ca_cert(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  PkeyPtr ca_key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, NoPassphrase, nullptr));
  if (!ca_cert || !ca_key) {
    return OpenSslError(absl::StatusCode::kDataLoss, absl::StrCat(tls_dir, " holds a garbled CA"));
  }
  ASSIGN_OR_RETURN(PkeyPtr key, GenerateP256Key());
  ASSIGN_OR_RETURN(X509Ptr cert,
                   IssueCertificate(key.get(), "Vigil device " + device_name, ca_cert.get(),
                                    ca_key.get(), kServerValidDays,
                                    {{NID_basic_constraints, "critical,CA:FALSE"},
                                     {NID_key_usage, "critical,digitalSignature"},
                                     {NID_ext_key_usage, "clientAuth"},
                                     {NID_subject_key_identifier, "hash"},
                                     {NID_authority_key_identifier, "keyid:always"}}));
  ClientCertificate out;
  ASSIGN_OR_RETURN(out.cert_pem,
                   ToPem([&](BIO* bio) { return PEM_write_bio_X509(bio, cert.get()); }));
  ASSIGN_OR_RETURN(out.key_pem, ToPem([&](BIO* bio) {
                     return PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr,
                                                     nullptr);
                   }));
  return out;
}

}  // namespace vigil::server
