#include "server/ops/tls_bootstrap.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace vigil::server {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::vigil::testing::IsOk;
using ::vigil::testing::StatusIs;

template <auto kFree>
struct OpenSslDeleter {
  template <typename T>
  void operator()(T* p) const {
    kFree(p);
  }
};
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free_all>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>>;
using StoreCtxPtr =
    std::unique_ptr<X509_STORE_CTX, OpenSslDeleter<X509_STORE_CTX_free>>;
using StorePtr = std::unique_ptr<X509_STORE, OpenSslDeleter<X509_STORE_free>>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509_free>>;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
}

mode_t PermissionBits(const std::string& path) {
  struct stat st;
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

X509Ptr ParseCert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), pem.size()));
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

std::string ToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size);
}

std::string KeyToPem(EVP_PKEY* key, const EVP_CIPHER* cipher = nullptr) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  char passphrase[] = "secret";
  PEM_write_bio_PKCS8PrivateKey(bio.get(), key, cipher, passphrase,
                                sizeof(passphrase) - 1, nullptr, nullptr);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size);
}

bool VerifiesAgainst(X509* leaf, X509* ca) {
  StorePtr store(X509_STORE_new());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  X509_STORE_add_cert(store.get(), ca);
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr);
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  const bool ok = X509_verify_cert(ctx.get()) == 1;
  if (!ok) {
    ADD_FAILURE() << X509_verify_cert_error_string(
        X509_STORE_CTX_get_error(ctx.get()));
  }
  return ok;
}

int ValidityDays(X509* cert) {
  int days = 0;
  int seconds = 0;
  EXPECT_EQ(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert),
                           X509_get0_notAfter(cert)),
            1);
  EXPECT_EQ(seconds, 0);
  return days;
}

class TlsBootstrapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "tls_bootstrap_test.XXXXXX")
            .string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    tls_dir_ = root_ + "/tls";
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::string TlsFile(const std::string& name) const {
    return tls_dir_ + "/" + name;
  }

  // Writes a self-signed certificate valid from now+from_s to now+to_s and
  // its key; returns {cert_file, key_file}.
  std::pair<std::string, std::string> WriteSelfSigned(long from_s, long to_s) {
    PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    X509Ptr cert(X509_new());
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), from_s);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), to_s);
    X509_set_pubkey(cert.get(), key.get());
    X509_sign(cert.get(), key.get(), EVP_sha256());
    const std::string cert_file = root_ + "/self.crt";
    const std::string key_file = root_ + "/self.key";
    WriteFile(cert_file, ToPem(cert.get()));
    WriteFile(key_file, KeyToPem(key.get()));
    return {cert_file, key_file};
  }

  std::string root_;
  std::string tls_dir_;
};

TEST_F(TlsBootstrapTest, GeneratesFourFilesWithPrivateModes) {
  const mode_t umask_bits = umask(0);
  umask(umask_bits);

  absl::StatusOr<TlsMaterial> material = EnsureGeneratedTls(tls_dir_);
  ASSERT_OK(material);

  EXPECT_TRUE(material->generated);
  EXPECT_EQ(material->ca_cert_path, TlsFile("ca.crt"));
  EXPECT_EQ(material->server_cert_pem, ReadFile(TlsFile("server.crt")));
  EXPECT_EQ(material->server_key_pem, ReadFile(TlsFile("server.key")));
  EXPECT_EQ(PermissionBits(tls_dir_), 0700u);
  EXPECT_EQ(PermissionBits(TlsFile("ca.key")), 0600u);
  EXPECT_EQ(PermissionBits(TlsFile("server.key")), 0600u);
  EXPECT_EQ(PermissionBits(TlsFile("ca.crt")), 0644u & ~umask_bits);
  EXPECT_EQ(PermissionBits(TlsFile("server.crt")), 0644u & ~umask_bits);
  // No temp files are left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(tls_dir_),
                          std::filesystem::directory_iterator()),
            4);
}

TEST_F(TlsBootstrapTest, SecondCallLoadsSameCertificate) {
  absl::StatusOr<TlsMaterial> first = EnsureGeneratedTls(tls_dir_);
  ASSERT_OK(first);
  absl::StatusOr<TlsMaterial> second = EnsureGeneratedTls(tls_dir_);
  ASSERT_OK(second);

  EXPECT_FALSE(second->generated);
  EXPECT_EQ(second->server_cert_pem, first->server_cert_pem);
  EXPECT_EQ(second->server_key_pem, first->server_key_pem);
  EXPECT_EQ(second->ca_cert_path, TlsFile("ca.crt"));
}

TEST_F(TlsBootstrapTest, ServerCertVerifiesAgainstCaAndCoversLocalhost) {
  absl::StatusOr<TlsMaterial> material = EnsureGeneratedTls(tls_dir_);
  ASSERT_OK(material);
  X509Ptr ca = ParseCert(ReadFile(material->ca_cert_path));
  X509Ptr leaf = ParseCert(material->server_cert_pem);
  ASSERT_NE(ca, nullptr);
  ASSERT_NE(leaf, nullptr);

  EXPECT_TRUE(VerifiesAgainst(leaf.get(), ca.get()));
  EXPECT_EQ(X509_check_host(leaf.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "::1", 0), 1);
  EXPECT_EQ(X509_check_host(leaf.get(), "example.com", 0, 0, nullptr), 0);
}

TEST_F(TlsBootstrapTest, CertificatesHaveDocumentedProfile) {
  ASSERT_OK(EnsureGeneratedTls(tls_dir_));
  X509Ptr ca = ParseCert(ReadFile(TlsFile("ca.crt")));
  X509Ptr leaf = ParseCert(ReadFile(TlsFile("server.crt")));
  ASSERT_NE(ca, nullptr);
  ASSERT_NE(leaf, nullptr);

  char cn[128] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(ca.get()), NID_commonName, cn,
                            sizeof(cn));
  EXPECT_THAT(cn, MatchesRegex("Vigil private CA [0-9a-f]{8}"));
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_EQ(X509_check_ca(leaf.get()), 0);
  EXPECT_EQ(X509_get_key_usage(ca.get()),
            unsigned{KU_KEY_CERT_SIGN | KU_CRL_SIGN});
  EXPECT_EQ(X509_get_key_usage(leaf.get()), unsigned{KU_DIGITAL_SIGNATURE});
  EXPECT_EQ(X509_get_extended_key_usage(leaf.get()), unsigned{XKU_SSL_SERVER});
  for (X509* cert : {ca.get(), leaf.get()}) {
    EXPECT_EQ(X509_get_signature_nid(cert), NID_ecdsa_with_SHA256);
    char group[32] = {};
    EVP_PKEY_get_group_name(X509_get0_pubkey(cert), group, sizeof(group),
                            nullptr);
    EXPECT_STREQ(group, "prime256v1");
    const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
    EXPECT_LE(serial->length, 17);  // 128 bits, plus a sign byte if needed.
    EXPECT_GE(serial->length, 8);   // Fails with probability 2^-64.
  }
  EXPECT_EQ(ValidityDays(ca.get()), 3650);
  EXPECT_EQ(ValidityDays(leaf.get()), 825);
  // Backdated, so a client whose clock is slightly behind accepts it.
  EXPECT_LT(X509_cmp_time(X509_get0_notBefore(leaf.get()), nullptr), 0);
}

TEST_F(TlsBootstrapTest, ExtraHostsBecomeDnsOrIpSans) {
  absl::StatusOr<TlsMaterial> material = EnsureGeneratedTls(
      tls_dir_, {"vigil.example.com", "10.0.0.5", "fd00::7", "localhost"});
  ASSERT_OK(material);
  X509Ptr leaf = ParseCert(material->server_cert_pem);
  ASSERT_NE(leaf, nullptr);

  EXPECT_EQ(X509_check_host(leaf.get(), "vigil.example.com", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "10.0.0.5", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "fd00::7", 0), 1);
  EXPECT_EQ(X509_check_host(leaf.get(), "localhost", 0, 0, nullptr), 1);
}

TEST_F(TlsBootstrapTest, InvalidExtraHostIsRejectedBeforeTouchingDisk) {
  EXPECT_THAT(EnsureGeneratedTls(tls_dir_, {"evil.com,IP:1.2.3.4"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(EnsureGeneratedTls(tls_dir_, {""}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_FALSE(std::filesystem::exists(tls_dir_));
}

TEST_F(TlsBootstrapTest, PartialSetIsFailedPreconditionAndUntouched) {
  ASSERT_OK(EnsureGeneratedTls(tls_dir_));
  const std::string ca_cert = ReadFile(TlsFile("ca.crt"));
  ASSERT_EQ(unlink(TlsFile("server.key").c_str()), 0);
  ASSERT_EQ(unlink(TlsFile("ca.key").c_str()), 0);

  absl::StatusOr<TlsMaterial> material = EnsureGeneratedTls(tls_dir_);
  EXPECT_THAT(material, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(material.status().message(), HasSubstr("ca.key, server.key"));
  EXPECT_EQ(ReadFile(TlsFile("ca.crt")), ca_cert);
  EXPECT_FALSE(std::filesystem::exists(TlsFile("server.key")));
}

TEST_F(TlsBootstrapTest, GarbledStoredCertIsDataLoss) {
  ASSERT_OK(EnsureGeneratedTls(tls_dir_));
  WriteFile(TlsFile("server.crt"), "not a certificate\n");

  absl::StatusOr<TlsMaterial> material = EnsureGeneratedTls(tls_dir_);
  EXPECT_THAT(material, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(material.status().message(), HasSubstr(TlsFile("server.crt")));
}

TEST_F(TlsBootstrapTest, StoredKeyFromAnotherSetIsDataLoss) {
  const std::string other_dir = root_ + "/other";
  ASSERT_OK(EnsureGeneratedTls(tls_dir_));
  ASSERT_OK(EnsureGeneratedTls(other_dir));
  std::filesystem::copy_file(other_dir + "/server.key", TlsFile("server.key"),
                             std::filesystem::copy_options::overwrite_existing);

  EXPECT_THAT(EnsureGeneratedTls(tls_dir_),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(TlsBootstrapTest, ConcurrentGenerationLeavesOneConsistentSet) {
  std::vector<absl::StatusOr<TlsMaterial>> results(4);
  std::vector<std::thread> threads;
  for (auto& result : results) {
    threads.emplace_back([&] { result = EnsureGeneratedTls(tls_dir_); });
  }
  for (std::thread& thread : threads) thread.join();

  int generated = 0;
  for (const auto& result : results) {
    if (result.ok()) {
      generated += result->generated;
    } else {
      // Losers either saw the winner's partial set or lost the rename race.
      EXPECT_THAT(result.status().code(),
                  ::testing::AnyOf(absl::StatusCode::kAborted,
                                   absl::StatusCode::kFailedPrecondition));
    }
  }
  EXPECT_EQ(generated, 1);
  X509Ptr ca = ParseCert(ReadFile(TlsFile("ca.crt")));
  X509Ptr leaf = ParseCert(ReadFile(TlsFile("server.crt")));
  ASSERT_NE(ca, nullptr);
  ASSERT_NE(leaf, nullptr);
  EXPECT_TRUE(VerifiesAgainst(leaf.get(), ca.get()));
  EXPECT_OK(EnsureGeneratedTls(tls_dir_));
}

TEST_F(TlsBootstrapTest, LoadTlsFilesLoadsChainAndKey) {
  ASSERT_OK(EnsureGeneratedTls(tls_dir_));
  const std::string chain_file = root_ + "/chain.crt";
  WriteFile(chain_file,
            ReadFile(TlsFile("server.crt")) + ReadFile(TlsFile("ca.crt")));

  absl::StatusOr<TlsMaterial> material =
      LoadTlsFiles(chain_file, TlsFile("server.key"));
  ASSERT_OK(material);
  EXPECT_FALSE(material->generated);
  EXPECT_TRUE(material->ca_cert_path.empty());
  EXPECT_EQ(material->server_cert_pem, ReadFile(chain_file));
  EXPECT_EQ(material->server_key_pem, ReadFile(TlsFile("server.key")));
}

TEST_F(TlsBootstrapTest, LoadTlsFilesMismatchedKeyIsInvalidArgument) {
  const std::string other_dir = root_ + "/other";
  ASSERT_OK(EnsureGeneratedTls(tls_dir_));
  ASSERT_OK(EnsureGeneratedTls(other_dir));

  absl::StatusOr<TlsMaterial> material =
      LoadTlsFiles(TlsFile("server.crt"), other_dir + "/server.key");
  EXPECT_THAT(material, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(material.status().message(), HasSubstr("does not match"));
}

TEST_F(TlsBootstrapTest, LoadTlsFilesMissingFileIsNotFound) {
  ASSERT_OK(EnsureGeneratedTls(tls_dir_));
  const std::string missing = root_ + "/missing.pem";

  absl::StatusOr<TlsMaterial> material =
      LoadTlsFiles(missing, TlsFile("server.key"));
  EXPECT_THAT(material, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(material.status().message(), HasSubstr(missing));
  EXPECT_THAT(LoadTlsFiles(TlsFile("server.crt"), missing),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(TlsBootstrapTest, LoadTlsFilesGarbagePemIsInvalidArgument) {
  ASSERT_OK(EnsureGeneratedTls(tls_dir_));
  const std::string garbage = root_ + "/garbage.pem";
  WriteFile(garbage,
            "-----BEGIN CERTIFICATE-----\nAAAA!!\n"
            "-----END CERTIFICATE-----\n");

  absl::StatusOr<TlsMaterial> material =
      LoadTlsFiles(garbage, TlsFile("server.key"));
  EXPECT_THAT(material, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(material.status().message(), HasSubstr(garbage));
  EXPECT_THAT(LoadTlsFiles(TlsFile("server.crt"), garbage),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(TlsBootstrapTest, LoadTlsFilesGarbledChainIsInvalidArgument) {
  ASSERT_OK(EnsureGeneratedTls(tls_dir_));
  const std::string chain_file = root_ + "/chain.crt";
  WriteFile(chain_file, ReadFile(TlsFile("server.crt")) +
                            "-----BEGIN CERTIFICATE-----\nAAAA\n"
                            "-----END CERTIFICATE-----\n");

  EXPECT_THAT(LoadTlsFiles(chain_file, TlsFile("server.key")),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(TlsBootstrapTest, LoadTlsFilesEncryptedKeyIsInvalidArgument) {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  const auto [cert_file, unused_key_file] = WriteSelfSigned(-60, 3600);
  const std::string key_file = root_ + "/encrypted.key";
  WriteFile(key_file, KeyToPem(key.get(), EVP_aes_256_cbc()));

  EXPECT_THAT(LoadTlsFiles(cert_file, key_file),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(TlsBootstrapTest, LoadTlsFilesChecksValidityPeriod) {
  {
    const auto [cert_file, key_file] = WriteSelfSigned(-60, 3600);
    EXPECT_OK(LoadTlsFiles(cert_file, key_file));
  }
  {
    const auto [cert_file, key_file] = WriteSelfSigned(-7200, -3600);
    absl::StatusOr<TlsMaterial> material = LoadTlsFiles(cert_file, key_file);
    EXPECT_THAT(material, StatusIs(absl::StatusCode::kFailedPrecondition));
    EXPECT_THAT(material.status().message(), HasSubstr("expired"));
  }
  {
    const auto [cert_file, key_file] = WriteSelfSigned(3600, 7200);
    absl::StatusOr<TlsMaterial> material = LoadTlsFiles(cert_file, key_file);
    EXPECT_THAT(material, StatusIs(absl::StatusCode::kFailedPrecondition));
    EXPECT_THAT(material.status().message(), HasSubstr("not yet valid"));
  }
}

}  // namespace
}  // namespace vigil::server
