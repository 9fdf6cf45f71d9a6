#include "server/api/vigil_server.h"

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/api/admin_service.h"
#include "server/auth/authenticator.h"
#include "server/ops/initial_admin.h"
#include "server/ops/logging.h"
#include "server/api/operations_service.h"
#include "server/api/report_service.h"
#include "server/api/review_service.h"
#include "server/api/sync_service.h"
#include "server/ops/tls_bootstrap.h"
#include "storage/storage.h"
#include "storage/value_cipher.h"

namespace vigil::server {
namespace {

// Unix socket paths are limited to 107 bytes.
constexpr std::size_t kMaxUnixPath = 107;

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeCredentials(
    const ServerConfig& config, const datadir::DataDirLayout& layout) {
  if (config.plaintext_loopback) {
    LogWarn("tls.disabled", {{"reason", "plaintext_loopback requested"},
                             {"listen", config.listen}});
    return grpc::InsecureServerCredentials();
  }
  TlsMaterial material;
  if (!config.tls_cert.empty()) {
    ASSIGN_OR_RETURN(material, LoadTlsFiles(config.tls_cert, config.tls_key));
    LogInfo("tls.loaded", {{"cert", config.tls_cert}});
  } else {
    ASSIGN_OR_RETURN(material, EnsureGeneratedTls(layout.tls(), config.tls_extra_hosts));
    LogInfo(material.generated ? "tls.generated" : "tls.loaded",
            {{"ca_cert", material.ca_cert_path},
             {"hint", "clients trust this CA certificate to reach this server"}});
  }
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({material.server_key_pem, material.server_cert_pem});
  if (!config.tls_client_ca.empty()) {
    std::ifstream in(config.tls_client_ca);
    std::stringstream pem;
    pem << in.rdbuf();
    if (!in || pem.str().find("BEGIN CERTIFICATE") == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tls_client_ca ", config.tls_client_ca, " is not a readable PEM certificate file"));
    }
    options.pem_root_certs = pem.str();
    options.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
    LogInfo("tls.client_certificates_required", {{"ca", config.tls_client_ca}});
  }
  return grpc::SslServerCredentials(options);
}

// Loads the data keys, generating the default key file for a database that
// has never sealed anything; refuses keys that do not match the database.
absl::StatusOr<std::unique_ptr<storage::KeyRing>> LoadDataKeys(const ServerConfig& config,
                                                               const datadir::DataDirLayout& layout,
                                                               storage::Storage& storage) {
  const std::string path = config.key_file.empty() ? layout.default_key_file() : config.key_file;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    ASSIGN_OR_RETURN(bool sealed_before, storage::HasKeyChecks(storage));
    if (sealed_before) {
      return absl::FailedPreconditionError(absl::StrCat(
          "data key file ", path,
          " is missing, and this database holds data encrypted with it: restore the key "
          "file (it is not part of database backups) or point key_file at it"));
    }
    RETURN_IF_ERROR(storage::KeyRing::Generate(path));
    LogInfo("keys.generated",
            {{"path", path},
             {"hint", "back this file up apart from the database backups: without it the "
                      "encrypted data cannot be read"}});
  }
  ASSIGN_OR_RETURN(std::unique_ptr<storage::KeyRing> keys, storage::KeyRing::Load(path));
  RETURN_IF_ERROR(storage::VerifyAndRecordKeyChecks(storage, *keys));
  LogInfo("keys.loaded", {{"path", path},
                          {"active_key_id", static_cast<std::uint64_t>(keys->active_key_id())}});
  return keys;
}

class ServerImpl final : public VigilServer {
 public:
  ServerImpl(datadir::DataDirLayout layout, const ServerConfig& config,
             std::unique_ptr<storage::Storage> storage, std::unique_ptr<storage::KeyRing> keys,
             std::unique_ptr<IdentityStore> identities, std::unique_ptr<AccessPolicy> policy,
             std::unique_ptr<RecordStore> records, std::unique_ptr<ReviewQueries> queries,
             std::unique_ptr<ReceiptSigner> signer)
      : layout_(std::move(layout)),
        config_(config),
        storage_(std::move(storage)),
        keys_(std::move(keys)),
        identities_(std::move(identities)),
        policy_(std::move(policy)),
        auth_(std::make_unique<Authenticator>(
            identities_.get(), storage_.get(),
            AuthOptions{.failures_per_minute = config.auth_failures_per_minute,
                        .requests_per_minute = config.device_requests_per_minute,
                        .bytes_per_minute = config.device_bytes_per_minute})),
        records_(std::move(records)),
        queries_(std::move(queries)),
        signer_(std::move(signer)),
        publisher_(std::make_unique<Publisher>(storage_.get(), keys_.get(), policy_.get(),
                                               records_.get(), queries_.get(), signer_.get())),
        attachments_(std::make_unique<AttachmentStore>(
            storage_.get(), keys_.get(), policy_.get(),
            AttachmentOptions{.max_attachment_bytes = config.max_attachment_bytes})),
        sync_service_(std::make_unique<SyncService>(auth_.get(), policy_.get(), records_.get(),
                                                    attachments_.get(), &hub_, signer_.get())),
        rotator_(std::make_unique<KeyRotator>(storage_.get(), keys_.get())),
        admin_service_(std::make_unique<AdminService>(auth_.get(), identities_.get(),
                                                      rotator_.get(), storage_.get(), &hub_,
                                                      signer_->public_key())),
        review_service_(
            std::make_unique<ReviewService>(auth_.get(), records_.get(), queries_.get())),
        report_service_(
            std::make_unique<ReportService>(auth_.get(), records_.get(), queries_.get(),
                                            publisher_.get())) {
    records_->SetChangeListener(
        [this](const std::vector<std::pair<std::string, std::uint64_t>>& changes) {
          hub_.Notify(changes);
        });
  }

  ~ServerImpl() override { Shutdown(); }

  absl::Status Serve(std::shared_ptr<grpc::ServerCredentials> credentials) {
    ASSIGN_OR_RETURN(HostPort listen, ParseHostPort(config_.listen));
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();

    grpc::ServerBuilder builder;
    // A push batch may hold up to 16 MiB; attachment chunks are 1 MiB.
    builder.SetMaxReceiveMessageSize(RecordStoreOptions().max_batch_bytes + (1 << 20));
    builder.AddListeningPort(config_.listen, credentials, &port_);
    builder.RegisterService(sync_service_.get());
    builder.RegisterService(admin_service_.get());
    builder.RegisterService(review_service_.get());
    builder.RegisterService(report_service_.get());
    public_server_ = builder.BuildAndStart();
    if (public_server_ == nullptr || port_ == 0) {
      return absl::UnavailableError(absl::StrCat("cannot listen on ", config_.listen,
                                                 " (address in use or not local?)"));
    }
    const std::string bound =
        absl::StrCat(listen.host.find(':') != std::string::npos ? "[" + listen.host + "]"
                                                                : listen.host,
                     ":", port_);
    ops_service_ = std::make_unique<OperationsService>(
        storage_.get(), ServerIdentity{kVigilVersion, bound, absl::ToUnixSeconds(absl::Now()),
                                       !config_.plaintext_loopback});
    StartOpsSocket();
    RETURN_IF_ERROR(rotator_->ResumeIfPending());
    public_server_->GetHealthCheckService()->SetServingStatus(true);
    LogInfo("server.listening", {{"address", bound},
                                 {"tls", !config_.plaintext_loopback},
                                 {"data_dir", layout_.root},
                                 {"version", kVigilVersion}});
    return absl::OkStatus();
  }

  int port() const override { return port_; }
  const datadir::DataDirLayout& layout() const override { return layout_; }

  void Shutdown() override {
    if (stopped_) return;
    stopped_ = true;
    LogInfo("server.stopping", {{"grace_seconds", config_.shutdown_grace_seconds}});
    auto deadline = std::chrono::system_clock::now() +
                    std::chrono::seconds(config_.shutdown_grace_seconds);
    hub_.CloseAll();  // subscriptions would otherwise hold the whole grace period
    if (public_server_) {
      public_server_->GetHealthCheckService()->SetServingStatus(false);
      public_server_->Shutdown(deadline);
    }
    if (ops_server_) ops_server_->Shutdown(deadline);
    publisher_.reset();  // finishes the reports being signed
    signer_.reset();     // finishes the receipts being signed, then their calls
    ops_server_.reset();
    ops_service_.reset();
    public_server_.reset();
    admin_service_.reset();  // finishes audit log walks
    rotator_.reset();        // pauses a re-encryption (resumed at the next start)
    sync_service_.reset();
    attachments_.reset();  // finishes pending verifications
    records_.reset();
    if (!layout_.root.empty()) {
      std::error_code ec;
      std::filesystem::remove(layout_.ops_socket(), ec);
    }
    storage_.reset();  // drains the commit pipeline, closes RocksDB
    LogInfo("server.stopped");
  }

 private:
  // The operations socket is a convenience (online backup); the server runs
  // without it when the path is too long for a Unix socket.
  void StartOpsSocket() {
    const std::string path = layout_.ops_socket();
    if (path.size() > kMaxUnixPath) {
      LogWarn("ops_socket.disabled", {{"path", path}, {"reason", "path too long"}});
      return;
    }
    std::error_code ec;
    std::filesystem::remove(path, ec);  // stale from a crash; we hold the lock
    mode_t old_mask = ::umask(0077);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + path, grpc::InsecureServerCredentials());
    builder.RegisterService(ops_service_.get());
    ops_server_ = builder.BuildAndStart();
    ::umask(old_mask);
    if (ops_server_ == nullptr) {
      LogWarn("ops_socket.disabled", {{"path", path}, {"reason", "cannot listen"}});
      return;
    }
    ::chmod(path.c_str(), 0600);
    LogInfo("ops_socket.listening", {{"path", path}});
  }

  datadir::DataDirLayout layout_;
  ServerConfig config_;
  std::unique_ptr<storage::Storage> storage_;
  std::unique_ptr<storage::KeyRing> keys_;
  std::unique_ptr<IdentityStore> identities_;
  std::unique_ptr<AccessPolicy> policy_;
  std::unique_ptr<Authenticator> auth_;
  ChangeHub hub_;
  std::unique_ptr<RecordStore> records_;
  std::unique_ptr<ReviewQueries> queries_;
  std::unique_ptr<ReceiptSigner> signer_;
  std::unique_ptr<Publisher> publisher_;
  std::unique_ptr<AttachmentStore> attachments_;
  std::unique_ptr<SyncService> sync_service_;
  std::unique_ptr<KeyRotator> rotator_;
  std::unique_ptr<AdminService> admin_service_;
  std::unique_ptr<ReviewService> review_service_;
  std::unique_ptr<ReportService> report_service_;
  std::unique_ptr<OperationsService> ops_service_;
  std::unique_ptr<grpc::Server> public_server_;
  std::unique_ptr<grpc::Server> ops_server_;
  int port_ = 0;
  bool stopped_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<VigilServer>> VigilServer::Start(const ServerConfig& config) {
  RETURN_IF_ERROR(SetLogLevel(config.log_level));
  ASSIGN_OR_RETURN(datadir::DataDirLayout layout, datadir::PrepareDataDir(config.data_dir));
  ASSIGN_OR_RETURN(std::unique_ptr<storage::Storage> storage,
                   storage::Storage::Open(layout.db(), storage::StorageOptions()));
  LogInfo("storage.opened", {{"path", layout.db()},
                             {"last_committed_seq", storage->LastCommittedSeq()}});
  ASSIGN_OR_RETURN(std::optional<std::string> admin_file,
                   EnsureInitialAdmin(*storage, layout.root));
  if (admin_file.has_value()) {
    LogInfo("admin.initial_credential_created",
            {{"path", *admin_file},
             {"hint", "readable only by this user; keep it secret: it is stored nowhere else"}});
  }
  ASSIGN_OR_RETURN(std::unique_ptr<storage::KeyRing> keys, LoadDataKeys(config, layout, *storage));
  ASSIGN_OR_RETURN(auto credentials, MakeCredentials(config, layout));
  auto identities = std::make_unique<IdentityStore>(storage.get());
  auto policy = std::make_unique<AccessPolicy>(identities.get());
  ASSIGN_OR_RETURN(std::unique_ptr<RecordStore> records,
                   RecordStore::Create(storage.get(), keys.get(), policy.get(),
                                       RecordStoreOptions()));
  // The team table is the source of truth; the record engine derives the
  // Visit record's team from it in the same commit (visit_team.h).
  identities->SetTeamChangedHook(
      [records = records.get()](storage::CommitContext& ctx, const Caller& by,
                                std::string_view visit_id) {
        return records->OnTeamChanged(ctx, by, visit_id);
      });
  ASSIGN_OR_RETURN(std::unique_ptr<ReviewQueries> queries,
                   ReviewQueries::Create(storage.get(), keys.get(), policy.get()));
  ASSIGN_OR_RETURN(std::unique_ptr<ReceiptSigner> signer,
                   ReceiptSigner::Create(storage.get(), keys.get()));
  auto server = std::make_unique<ServerImpl>(layout, config, std::move(storage), std::move(keys),
                                             std::move(identities), std::move(policy),
                                             std::move(records), std::move(queries),
                                             std::move(signer));
  RETURN_IF_ERROR(server->Serve(std::move(credentials)));
  return server;
}

}  // namespace vigil::server
