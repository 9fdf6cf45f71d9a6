#include "server/records/attachment_store.h"

#include <sodium.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/error_reason.h"
#include "base/sha256.h"
#include "base/status_macros.h"
#include "storage/audit_log.h"
#include "storage/key_codec.h"
#include "sync/scope.h"
#include "vigil/internal/storage_values.pb.h"

namespace vigil::server {
namespace {

using storage::ColumnFamily;
using storage::CommitContext;
using storage::KeyBuilder;
using vigil::internal::AttachmentMeta;

std::string MetaKey(std::string_view sha) {
  return KeyBuilder().AddString("m").AddString(sha).key();
}
std::string PiecePrefix(std::string_view sha) {
  return KeyBuilder().AddString("p").AddString(sha).key();
}
// ("s", sha256, scope) -> "": the content was uploaded into that scope.
std::string ScopeKey(std::string_view sha, std::string_view scope) {
  return KeyBuilder().AddString("s").AddString(sha).AddString(scope).key();
}

std::string PieceKey(std::string_view sha, std::uint64_t end) {
  return KeyBuilder().AddString("p").AddString(sha).AddUint64(end).key();
}

AttachmentState StateOf(std::string_view sha, const AttachmentMeta& meta) {
  return AttachmentState{std::string(sha), meta.size(), meta.received(), meta.complete()};
}

absl::StatusOr<std::optional<AttachmentMeta>> ParseMeta(
    const absl::StatusOr<std::optional<std::string>>& raw) {
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return std::nullopt;
  AttachmentMeta meta;
  if (!meta.ParseFromString(**raw)) {
    return absl::DataLossError("stored attachment metadata is corrupt");
  }
  return meta;
}

absl::Status DeletePieces(CommitContext& ctx, std::string_view sha256) {
  std::vector<std::string> keys;
  RETURN_IF_ERROR(ctx.Scan(ColumnFamily::kAttachments,
                           storage::KeyRange::Prefix(PiecePrefix(sha256)),
                           [&](std::string_view key, std::string_view) {
                             keys.emplace_back(key);
                             return true;
                           }));
  for (const auto& key : keys) ctx.Delete(ColumnFamily::kAttachments, key);
  return absl::OkStatus();
}

// Runs `prepare` through the commit pipeline and hands its state to `done`.
void CommitState(storage::Storage* storage,
                 absl::AnyInvocable<absl::StatusOr<AttachmentState>(CommitContext&)> prepare,
                 AttachmentDoneFn done) {
  auto result = std::make_shared<absl::StatusOr<AttachmentState>>();
  storage->Submit(
      [prepare = std::move(prepare), result](CommitContext& ctx) mutable -> absl::Status {
        *result = prepare(ctx);
        return result->status();
      },
      [result, done = std::move(done)](absl::StatusOr<storage::CommitResult> r) mutable {
        if (!r.ok()) {
          done(r.status());
          return;
        }
        done(std::move(*result));
      });
}

}  // namespace

absl::Status AttachmentStore::ValidateSha256(std::string_view sha256) {
  bool ok = sha256.size() == 64;
  for (char c : sha256) ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (ok) return absl::OkStatus();
  return WithReason(
      absl::InvalidArgumentError("sha256 must be 64 lowercase hexadecimal digits"),
      "SHA256_INVALID", {{"field", "sha256"}});
}

absl::StatusOr<AttachmentState> AttachmentStore::GetState(std::string_view sha256) {
  RETURN_IF_ERROR(ValidateSha256(sha256));
  ASSIGN_OR_RETURN(auto meta, ParseMeta(storage_->Get(ColumnFamily::kAttachments,
                                                      MetaKey(sha256))));
  if (!meta.has_value()) {
    return WithReason(absl::NotFoundError("no attachment with this sha256 is stored"),
                      "ATTACHMENT_NOT_FOUND", {{"sha256", std::string(sha256)}});
  }
  return StateOf(sha256, *meta);
}

absl::Status AttachmentStore::CheckWrite(const Caller& caller, const std::string& scope,
                                         CommitContext& ctx) const {
  return policy_->RequireWrite(caller, scope, ctx).status();
}

absl::StatusOr<AttachmentState> AttachmentStore::StateFor(const Caller& caller,
                                                          std::string_view scope,
                                                          std::string_view sha256) {
  RETURN_IF_ERROR(sync::Scope::Parse(scope).status());
  RETURN_IF_ERROR(ValidateSha256(sha256));
  RETURN_IF_ERROR(policy_->RequireAttachmentBytes(caller, scope).status());
  ASSIGN_OR_RETURN(bool linked, InScope(sha256, scope));
  // The scope storing an unfinished upload learns where it ends (its bytes
  // are readable only once complete, and then the scope is linked).
  if (!linked) {
    ASSIGN_OR_RETURN(linked, UploadingIn(sha256, scope));
  }
  if (!linked) {
    return WithReason(absl::NotFoundError("no attachment with this hash in this scope"),
                      "ATTACHMENT_NOT_FOUND", {{"sha256", std::string(sha256)}});
  }
  return GetState(sha256);
}

void AttachmentStore::OpenForDownload(const Caller& caller, std::string scope,
                                      std::string sha256, AttachmentDoneFn done) {
  absl::StatusOr<AttachmentState> state = StateFor(caller, scope, sha256);
  if (!state.ok()) return done(state.status());
  CommitState(
      storage_,
      [caller, state = *std::move(state),
       target = "attachments/" + sha256 + " in " + scope](CommitContext& ctx)
          -> absl::StatusOr<AttachmentState> {
        RETURN_IF_ERROR(storage::AppendAudit(ctx, AuditOf(caller, "attachment.read", target)));
        return state;
      },
      std::move(done));
}

absl::StatusOr<bool> AttachmentStore::InScope(std::string_view sha256, std::string_view scope) {
  ASSIGN_OR_RETURN(auto link, storage_->Get(ColumnFamily::kAttachments, ScopeKey(sha256, scope)));
  return link.has_value();
}

absl::StatusOr<bool> AttachmentStore::UploadingIn(std::string_view sha256,
                                                  std::string_view scope) {
  ASSIGN_OR_RETURN(auto meta, ParseMeta(storage_->Get(ColumnFamily::kAttachments,
                                                      MetaKey(sha256))));
  return meta.has_value() && !meta->complete() && meta->uploader_scope() == scope;
}

void AttachmentStore::Begin(const Caller& caller, std::string scope, std::string sha256,
                            std::uint64_t size, AttachmentDoneFn done) {
  absl::Status valid = sync::Scope::Parse(scope).status();
  if (valid.ok()) valid = ValidateSha256(sha256);
  if (valid.ok() && (size == 0 || size > options_.max_attachment_bytes)) {
    valid = WithReason(absl::InvalidArgumentError(absl::StrCat(
                           "attachment size must be 1..", options_.max_attachment_bytes,
                           " bytes, not ", size)),
                       "ATTACHMENT_SIZE_INVALID", {{"field", "size"}});
  }
  if (!valid.ok()) {
    done(valid);
    return;
  }
  CommitState(
      storage_,
      [this, caller, scope, sha256, size](CommitContext& ctx) -> absl::StatusOr<AttachmentState> {
        RETURN_IF_ERROR(CheckWrite(caller, scope, ctx));
        ASSIGN_OR_RETURN(auto meta,
                         ParseMeta(ctx.Get(ColumnFamily::kAttachments, MetaKey(sha256))));
        ASSIGN_OR_RETURN(auto linked, ctx.Get(ColumnFamily::kAttachments, ScopeKey(sha256, scope)));
        // The scope storing an unfinished upload resumes it; any other scope
        // first proves it has every byte.
        const bool uploading = meta.has_value() && !meta->complete() &&
                               meta->uploader_scope() == scope;
        if (meta.has_value() && !linked.has_value() && !uploading) {
          AttachmentState proof;
          proof.sha256 = sha256;
          proof.size = size;
          proof.proof_needed = true;
          return proof;
        }
        if (meta.has_value() && meta->size() == size) return StateOf(sha256, *meta);
        if (meta.has_value() && meta->complete()) {
          return WithReason(
              absl::FailedPreconditionError(absl::StrCat(
                  "the content with this sha256 is stored and has ", meta->size(),
                  " bytes, not ", size)),
              "ATTACHMENT_SIZE_MISMATCH", {{"stored_size", std::to_string(meta->size())}});
        }
        // An unfinished upload that declared another size: one of the two
        // sizes is wrong, and the content-addressed check will tell. Start
        // over rather than let a wrong declaration block the hash forever.
        if (meta.has_value()) RETURN_IF_ERROR(DeletePieces(ctx, sha256));
        AttachmentMeta fresh;
        fresh.set_size(size);
        fresh.set_created_unix(absl::ToUnixSeconds(absl::Now()));
        fresh.set_uploader_scope(scope);
        ctx.Put(ColumnFamily::kAttachments, MetaKey(sha256), fresh.SerializeAsString());
        RETURN_IF_ERROR(storage::AppendAudit(
            ctx, AuditOf(caller, "attachment.upload_started",
                         "attachments/" + sha256 + " in " + scope)));
        return StateOf(sha256, fresh);
      },
      VerifyWhenFull(caller, std::move(done)));
}

void AttachmentStore::Link(const Caller& caller, std::string scope, std::string sha256,
                           AttachmentDoneFn done) {
  CommitState(
      storage_,
      [this, caller, scope, sha256](CommitContext& ctx) -> absl::StatusOr<AttachmentState> {
        RETURN_IF_ERROR(CheckWrite(caller, scope, ctx));
        ASSIGN_OR_RETURN(auto meta,
                         ParseMeta(ctx.Get(ColumnFamily::kAttachments, MetaKey(sha256))));
        if (!meta.has_value()) {
          return WithReason(absl::AbortedError("the stored content went away: upload it again"),
                            "ATTACHMENT_GONE");
        }
        ctx.Put(ColumnFamily::kAttachments, ScopeKey(sha256, scope), "");
        // Whoever began the stored upload may never finish it (or never had
        // the bytes): the scope that proved them takes it over.
        if (!meta->complete() && meta->uploader_scope() != scope) {
          meta->set_uploader_scope(scope);
          ctx.Put(ColumnFamily::kAttachments, MetaKey(sha256), meta->SerializeAsString());
        }
        RETURN_IF_ERROR(storage::AppendAudit(
            ctx, AuditOf(caller, "attachment.linked", "attachments/" + sha256 + " in " + scope)));
        return StateOf(sha256, *meta);
      },
      VerifyWhenFull(caller, std::move(done)));
}

void AttachmentStore::Append(const Caller& caller, std::string scope, std::string sha256,
                             std::uint64_t offset, std::string data,
                             std::string_view chunk_sha256, AttachmentDoneFn done) {
  absl::Status valid = ValidateSha256(sha256);
  if (valid.ok() && (data.empty() || data.size() > options_.max_chunk_bytes)) {
    valid = WithReason(absl::InvalidArgumentError(absl::StrCat(
                           "a chunk must hold 1..", options_.max_chunk_bytes, " bytes")),
                       "CHUNK_SIZE_INVALID", {{"offset", std::to_string(offset)}});
  }
  if (valid.ok() && Sha256::HexOf(data) != chunk_sha256) {
    valid = WithReason(
        absl::DataLossError("chunk bytes do not match the chunk's sha256: resend the chunk"),
        "CHUNK_CORRUPT", {{"offset", std::to_string(offset)}});
  }
  if (!valid.ok()) {
    done(valid);
    return;
  }
  CommitState(
      storage_,
      [this, caller, scope, sha256, offset, data = std::move(data)](CommitContext& ctx)
          -> absl::StatusOr<AttachmentState> {
        RETURN_IF_ERROR(CheckWrite(caller, scope, ctx));
        ASSIGN_OR_RETURN(auto meta,
                         ParseMeta(ctx.Get(ColumnFamily::kAttachments, MetaKey(sha256))));
        ASSIGN_OR_RETURN(auto linked, ctx.Get(ColumnFamily::kAttachments, ScopeKey(sha256, scope)));
        if (!meta.has_value() ||
            (!linked.has_value() && !meta->complete() && meta->uploader_scope() != scope)) {
          return WithReason(absl::FailedPreconditionError(
                                "no upload of this sha256 is begun in this scope (another "
                                "scope took it over): begin again"),
                            "UPLOAD_NOT_BEGUN");
        }
        if (meta->complete()) return StateOf(sha256, *meta);
        if (offset != meta->received()) {
          return WithReason(
              absl::FailedPreconditionError(absl::StrCat(
                  "chunk offset ", offset, " is not where the stored upload ends (",
                  meta->received(), ")")),
              "CHUNK_OFFSET_MISMATCH",
              {{"expected_offset", std::to_string(meta->received())}});
        }
        if (offset + data.size() > meta->size()) {
          return WithReason(absl::InvalidArgumentError(absl::StrCat(
                                "chunk ends at ", offset + data.size(),
                                ", past the declared size ", meta->size())),
                            "CHUNK_PAST_END");
        }
        meta->set_received(offset + data.size());
        const std::string key = PieceKey(sha256, meta->received());
        ctx.Put(ColumnFamily::kAttachments, key, keys_->Seal(data, key));
        ctx.Put(ColumnFamily::kAttachments, MetaKey(sha256), meta->SerializeAsString());
        return StateOf(sha256, *meta);
      },
      VerifyWhenFull(caller, std::move(done)));
}

AttachmentDoneFn AttachmentStore::VerifyWhenFull(const Caller& caller, AttachmentDoneFn done) {
  return [this, caller, done = std::move(done)](absl::StatusOr<AttachmentState> state) mutable {
    if (state.ok() && !state->complete && state->received == state->size) {
      std::string sha = state->sha256;
      verifier_.Post([this, caller, sha = std::move(sha), done = std::move(done)]() mutable {
        Verify(std::move(caller), std::move(sha), std::move(done));
      });
      return;
    }
    done(std::move(state));
  };
}

void AttachmentStore::Verify(Caller caller, std::string sha256, AttachmentDoneFn done) {
  Sha256 hash;
  std::uint64_t total = 0;
  absl::Status opened = absl::OkStatus();
  absl::Status scanned = storage_->Scan(
      ColumnFamily::kAttachments, storage::KeyRange::Prefix(PiecePrefix(sha256)), nullptr,
      [&](std::string_view key, std::string_view sealed) {
        absl::StatusOr<std::string> value = keys_->Open(sealed, key);
        if (!value.ok()) {
          opened = value.status();
          return false;
        }
        hash.Update(*value);
        total += value->size();
        return true;
      });
  if (scanned.ok()) scanned = opened;
  const std::string hex = hash.FinalHex();
  if (!scanned.ok()) {
    done(scanned);
    return;
  }
  const bool matches = hex == sha256;
  CommitState(
      storage_,
      [caller, sha256, matches, total](CommitContext& ctx)
          -> absl::StatusOr<AttachmentState> {
        ASSIGN_OR_RETURN(auto meta,
                         ParseMeta(ctx.Get(ColumnFamily::kAttachments, MetaKey(sha256))));
        if (!meta.has_value()) return absl::NotFoundError("attachment vanished");
        if (meta->complete()) return StateOf(sha256, *meta);
        if (matches && total == meta->size()) {
          meta->set_complete(true);
          // The scope that stored the bytes may now read them.
          if (!meta->uploader_scope().empty()) {
            ctx.Put(ColumnFamily::kAttachments, ScopeKey(sha256, meta->uploader_scope()), "");
            meta->clear_uploader_scope();
          }
          ctx.Put(ColumnFamily::kAttachments, MetaKey(sha256), meta->SerializeAsString());
          RETURN_IF_ERROR(storage::AppendAudit(
              ctx, AuditOf(caller, "attachment.stored", "attachments/" + sha256)));
          return StateOf(sha256, *meta);
        }
        // Discard: a content-addressed upload that does not hash to its name
        // can only be restarted from scratch.
        RETURN_IF_ERROR(DeletePieces(ctx, sha256));
        ctx.Delete(ColumnFamily::kAttachments, MetaKey(sha256));
        RETURN_IF_ERROR(storage::AppendAudit(
            ctx, AuditOf(caller, "attachment.discarded", "attachments/" + sha256,
                         "ATTACHMENT_HASH_MISMATCH")));
        return AttachmentState{sha256, meta->size(), 0, false};
      },
      [sha256, done = std::move(done)](absl::StatusOr<AttachmentState> state) mutable {
        if (state.ok() && !state->complete) {
          done(WithReason(absl::DataLossError(
                              "the uploaded content does not match its sha256; it was "
                              "discarded: upload it again"),
                          "ATTACHMENT_HASH_MISMATCH", {{"sha256", std::string(sha256)}}));
          return;
        }
        done(std::move(state));
      });
}

absl::StatusOr<std::vector<AttachmentPiece>> AttachmentStore::Read(std::string_view sha256,
                                                                   std::uint64_t offset,
                                                                   std::uint64_t end,
                                                                   std::size_t max_bytes) {
  ASSIGN_OR_RETURN(AttachmentState state, GetState(sha256));
  if (!state.complete) {
    return WithReason(absl::NotFoundError("the attachment is not completely uploaded yet"),
                      "ATTACHMENT_INCOMPLETE", {{"sha256", std::string(sha256)}});
  }
  if (offset >= end || end > state.size) {
    return WithReason(absl::OutOfRangeError(absl::StrCat("range [", offset, ", ", end,
                                                         ") is outside the attachment of ",
                                                         state.size, " bytes")),
                      "RANGE_INVALID", {{"size", std::to_string(state.size)}});
  }
  std::vector<AttachmentPiece> pieces;
  std::size_t bytes = 0;
  absl::Status malformed;
  storage::KeyRange range{PieceKey(sha256, offset + 1),
                          storage::PrefixSuccessor(PiecePrefix(sha256))};
  RETURN_IF_ERROR(storage_->Scan(
      ColumnFamily::kAttachments, range, nullptr,
      [&](std::string_view key, std::string_view sealed) {
        absl::StatusOr<std::string> opened = keys_->Open(sealed, key);
        if (!opened.ok()) {
          malformed = opened.status();
          return false;
        }
        std::string_view value = *opened;
        auto reader = storage::KeyReader::Create(key);
        absl::StatusOr<std::uint64_t> end_offset = absl::DataLossError("malformed piece key");
        if (reader.ok() && reader->ReadString().ok() && reader->ReadString().ok()) {
          end_offset = reader->ReadUint64();
        }
        if (!end_offset.ok() || *end_offset < value.size()) {
          malformed = absl::DataLossError("malformed attachment piece key");
          return false;
        }
        const std::uint64_t piece_end = *end_offset;
        const std::uint64_t piece_start = piece_end - value.size();
        const std::uint64_t from = std::max(piece_start, offset);
        const std::uint64_t to = std::min(piece_end, end);
        if (from < to) {
          pieces.push_back(
              {from, std::string(value.substr(from - piece_start, to - from))});
          bytes += to - from;
        }
        return piece_end < end && bytes < max_bytes;
      }));
  RETURN_IF_ERROR(malformed);
  return pieces;
}

}  // namespace vigil::server
