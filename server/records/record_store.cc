#include "server/records/record_store.h"

#include <sodium.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <set>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/deterministic_bytes.h"
#include "base/error_reason.h"
#include "base/sha256.h"
#include "base/status_macros.h"
#include "server/auth/access_policy.h"
#include "storage/audit_log.h"
#include "storage/key_codec.h"
#include "sync/hlc.h"
#include "sync/ids.h"
#include "sync/merge.h"
#include "sync/record_merge.h"
#include "vigil/internal/storage_values.pb.h"

namespace vigil::server {
namespace {

using storage::ColumnFamily;
using storage::CommitContext;
using storage::KeyBuilder;
using vigil::v1::Mutation;
using vigil::v1::MutationResult;
using vigil::internal::StoredMutation;
using vigil::v1::Record;

constexpr unsigned char kCursorVersion = 3;
constexpr unsigned char kCursorVersionWithoutEpoch = 2;
constexpr unsigned char kCursorVersionWithoutView = 1;

// A caller's view epoch in a scope (kIndexes): it moves when what the caller
// may see changes without the records concerned changing (an interview's
// interviewers decide who sees its identity records), and a cursor of
// another epoch starts the scope again. Service accounts share one, under a
// name no user id can take.
std::string ViewEpochKey(std::string_view scope, std::string_view principal) {
  return storage::KeyBuilder().AddString("view_epoch").AddString(scope).AddString(principal).key();
}
constexpr std::string_view kServicesEpoch = "*services";

// 8 bytes, most significant first (cursors, view epochs).
void AppendUint64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}
std::uint64_t ReadUint64(const unsigned char* bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | bytes[i];
  return v;
}

absl::StatusOr<std::uint64_t> ParseEpoch(const std::optional<std::string>& raw) {
  if (!raw.has_value()) return 0;
  if (raw->size() != 8) return absl::DataLossError("malformed view epoch");
  return ReadUint64(reinterpret_cast<const unsigned char*>(raw->data()));
}

// What shapes the records a grant sees (which fields are removed, which
// records withheld). A cursor carries it: when it changes, the scope is
// pulled again from the beginning in the new shape.
std::uint8_t ViewOf(const ScopeGrant& grant) {
  return static_cast<std::uint8_t>((grant.full_view ? 1 : 0) | (grant.medical ? 2 : 0) |
                                   (grant.service ? 4 : 0) | (grant.reviewer ? 8 : 0));
}
constexpr std::size_t kCursorMacBytes = 16;

std::string RecordKey(std::string_view id) { return KeyBuilder().AddString(id).key(); }
std::string HistoryKey(std::string_view id, std::uint64_t revision) {
  return KeyBuilder().AddString(id).AddUint64(revision).key();
}
std::string ChangePrefix(std::string_view scope) { return KeyBuilder().AddString(scope).key(); }
std::string ChangeKey(std::string_view scope, std::uint64_t seq) {
  return KeyBuilder().AddString(scope).AddUint64(seq).key();
}
std::string MutationKey(std::string_view id) { return KeyBuilder().AddString(id).key(); }
std::string LateKey(std::string_view scope, std::string_view mutation_id) {
  return KeyBuilder().AddString("late").AddString(scope).AddString(mutation_id).key();
}

// Plain values start with 0x00; sealed ones with the cipher's format byte.
std::string Encode(const google::protobuf::Message& message, bool sensitive,
                   std::string_view key, const storage::KeyRing& keys) {
  if (sensitive) return keys.Seal(DeterministicBytes(message), key);
  std::string plain(1, '\0');
  AppendDeterministic(message, &plain);
  return plain;
}

template <typename T>
absl::StatusOr<T> Decode(std::string_view value, std::string_view key,
                         const storage::KeyRing& keys) {
  if (value.empty()) return absl::DataLossError("empty stored value");
  std::string opened;
  std::string_view bytes = value.substr(1);
  if (value[0] != '\0') {
    ASSIGN_OR_RETURN(opened, keys.Open(value, key));
    bytes = opened;
  }
  T message;
  if (!message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError("stored value cannot be parsed");
  }
  return message;
}

absl::StatusOr<std::optional<Record>> ReadRecord(CommitContext& ctx, ColumnFamily cf,
                                                 const std::string& key,
                                                 const storage::KeyRing& keys) {
  ASSIGN_OR_RETURN(auto raw, ctx.Get(cf, key));
  if (!raw.has_value()) return std::nullopt;
  return Decode<Record>(*raw, key, keys);
}

// Revision `revision` of a record: the head itself, or from history, which
// holds every revision but the head's.
absl::StatusOr<std::optional<Record>> ReadRevision(CommitContext& ctx,
                                                   const std::optional<Record>& head,
                                                   const std::string& id, std::uint64_t revision,
                                                   const storage::KeyRing& keys) {
  if (head.has_value() && head->revision() == revision) return head;
  return ReadRecord(ctx, ColumnFamily::kHistory, HistoryKey(id, revision), keys);
}

// What identifies one edit of a device (see StoredMutation.fingerprint).
std::string Fingerprint(const Mutation& m) {
  std::string key;
  auto add = [&key](std::string_view part) {
    AppendUint64(key, part.size());
    key.append(part);
  };
  add(m.record_id());
  add(m.scope());
  add(m.base_mutation_id());
  AppendUint64(key, m.base_revision());
  AppendUint64(key, m.delete_() ? 1 : 0);
  AppendUint64(key, static_cast<std::uint64_t>(m.hlc().wall_time_micros()));
  AppendUint64(key, m.hlc().logical());
  AppendUint64(key, static_cast<std::uint64_t>(m.resolves_conflict_ids_size()));
  for (const std::string& id : m.resolves_conflict_ids()) add(id);
  AppendUint64(key, static_cast<std::uint64_t>(m.body().kind_case()));
  AppendUint64(key, m.body().ByteSizeLong());
  return Sha256::Of(key).substr(0, 16);
}

absl::Status AtMutation(absl::Status status, int index, const Mutation& m,
                        absl::string_view reason) {
  return WithReason(
      absl::Status(status.code(), absl::StrCat("mutation ", index, " (", m.mutation_id(),
                                               "): ", status.message())),
      reason, {{"mutation_id", m.mutation_id()}, {"index", std::to_string(index)}});
}

absl::string_view ReasonFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kNotFound:
      return "MUTATION_TARGET_NOT_FOUND";
    case absl::StatusCode::kFailedPrecondition:
      return "MUTATION_PRECONDITION_FAILED";
    default:
      return "MUTATION_INVALID";
  }
}

// Appends protobuf field `field` (wire type 2) holding `bytes` to `out`.
void AppendLengthDelimited(std::string& out, std::uint32_t field, std::string_view bytes) {
  std::uint8_t header[10];
  std::uint8_t* end =
      google::protobuf::io::CodedOutputStream::WriteVarint32ToArray((field << 3) | 2, header);
  end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(
      static_cast<std::uint32_t>(bytes.size()), end);
  out.append(reinterpret_cast<const char*>(header), end - header);
  out.append(bytes);
}

// A visit's records, the visit record itself included, are locked once the
// visit is approved or published; deleting the visit record does not unlock
// them (a tombstone keeps its body). Only the NPM unit still changes the
// visit record of a locked visit: that is how review moves it on.
absl::StatusOr<bool> VisitLocked(CommitContext& ctx, const std::string& scope,
                                 const storage::KeyRing& keys) {
  if (!absl::StartsWith(scope, "visits/")) return false;
  const std::string visit_id = scope.substr(7);
  ASSIGN_OR_RETURN(auto visit, ReadRecord(ctx, ColumnFamily::kRecords, RecordKey(visit_id), keys));
  if (!visit.has_value() || !visit->body().has_visit() || visit->scope() != scope) {
    return false;
  }
  const auto state = visit->body().visit().state();
  return state == vigil::v1::VISIT_STATE_APPROVED || state == vigil::v1::VISIT_STATE_PUBLISHED;
}

}  // namespace

absl::Status RecordStore::ValidateScope(absl::string_view scope) {
  if (scope == "registry") return absl::OkStatus();
  for (absl::string_view prefix : {"visits/", "facilities/"}) {
    if (absl::StartsWith(scope, prefix) &&
        sync::ValidateRecordId(std::string(scope.substr(prefix.size()))).ok()) {
      return absl::OkStatus();
    }
  }
  return WithReason(absl::InvalidArgumentError(absl::StrCat(
                        "scope '", scope,
                        "' is not \"registry\", \"visits/{id}\" or \"facilities/{id}\"")),
                    "SCOPE_INVALID", {{"scope", std::string(scope)}});
}

absl::StatusOr<std::unique_ptr<RecordStore>> RecordStore::Create(storage::Storage* storage,
                                                                 const storage::KeyRing* keys,
                                                                 const AccessPolicy* policy,
                                                                 RecordStoreOptions options) {
  ASSIGN_OR_RETURN(std::string key,
                   storage::LoadOrCreateSecret(*storage, *keys, kCursorSecret, [] {
                     std::string k(crypto_auth_hmacsha256_KEYBYTES, '\0');
                     crypto_auth_hmacsha256_keygen(reinterpret_cast<unsigned char*>(k.data()));
                     return k;
                   }));
  if (key.size() != crypto_auth_hmacsha256_KEYBYTES) {
    return absl::DataLossError("stored cursor key has the wrong size");
  }
  ASSIGN_OR_RETURN(std::optional<std::string> point,
                   storage->Get(ColumnFamily::kMeta, datadir::RestorePointKey()));
  std::optional<std::uint64_t> restored_at;
  if (point.has_value()) {
    std::uint64_t seq = 0;
    if (!absl::SimpleAtoi(*point, &seq)) return absl::DataLossError("malformed restore point");
    restored_at = seq;
  }
  return std::unique_ptr<RecordStore>(
      new RecordStore(storage, keys, policy, options, std::move(key), restored_at));
}

absl::Status RecordStore::CursorInvalid(absl::string_view scope,
                                        absl::string_view message) const {
  if (!restored_at_.has_value()) {
    return WithReason(absl::InvalidArgumentError(message), "CURSOR_INVALID", {{"scope", scope}});
  }
  const std::string point = std::to_string(*restored_at_);
  return WithReason(absl::InvalidArgumentError(message), "CURSOR_INVALID",
                    {{"scope", scope}, {"restored_at_seq", point}});
}

absl::StatusOr<std::uint64_t> RecordStore::ForEachInScope(
    const Caller& caller, const std::string& scope,
    absl::FunctionRef<void(const Record&)> visit) {
  RETURN_IF_ERROR(ValidateScope(scope));
  const storage::Snapshot snapshot = storage_->GetSnapshot();
  storage::StorageView at_snapshot(*storage_, &snapshot);
  ASSIGN_OR_RETURN(ScopeGrant grant, policy_->RequireRead(caller, scope, at_snapshot));
  auto same_scope = [&](std::string_view id) -> absl::StatusOr<std::optional<Record>> {
    return ReadInScope(id, scope, snapshot);
  };
  std::vector<std::string> ids;
  RETURN_IF_ERROR(storage_->Scan(ColumnFamily::kChanges,
                                 storage::KeyRange::Prefix(ChangePrefix(scope)), &snapshot,
                                 [&](std::string_view, std::string_view id) {
                                   ids.emplace_back(id);
                                   return true;
                                 }));
  for (const std::string& id : ids) {
    const std::string key = RecordKey(id);
    ASSIGN_OR_RETURN(auto raw, storage_->Get(ColumnFamily::kRecords, key, &snapshot));
    if (!raw.has_value()) return absl::DataLossError(absl::StrCat("change of missing record ", id));
    ASSIGN_OR_RETURN(Record record, Decode<Record>(*raw, key, *keys_));
    ASSIGN_OR_RETURN(Visibility visibility, Redact(grant, record, same_scope));
    if (visibility != Visibility::kWithheld) visit(record);
  }
  return snapshot.seq();
}

absl::Status RecordStore::MoveViewEpochs(CommitContext& ctx, const std::optional<Record>& head,
                                         const Record& after, RecordLookup lookup) const {
  std::set<std::string> moved;
  auto interviewers = [](const Record* r) {
    std::set<std::string> ids;
    if (r != nullptr && r->body().has_interview()) {
      ids.insert(r->body().interview().interviewer_user_ids().begin(),
                 r->body().interview().interviewer_user_ids().end());
    }
    return ids;
  };
  const Record* before = head.has_value() ? &*head : nullptr;
  if (after.body().has_interview() || (before != nullptr && before->body().has_interview())) {
    const std::set<std::string> was = interviewers(before), is = interviewers(&after);
    std::set_symmetric_difference(was.begin(), was.end(), is.begin(), is.end(),
                                  std::inserter(moved, moved.end()));
  }
  if (before != nullptr && before->body().has_identity() &&
      before->body().identity().interview_id() != after.body().identity().interview_id()) {
    ASSIGN_OR_RETURN(std::optional<Record> old_interview,
                     lookup(before->body().identity().interview_id()));
    for (const std::string& id : interviewers(old_interview ? &*old_interview : nullptr)) {
      moved.insert(id);
    }
  }
  if (before != nullptr) {
    ScopeGrant service;
    service.read = true;
    service.service = true;
    ASSIGN_OR_RETURN(Visibility was, VisibilityOf(service, *before, lookup));
    ASSIGN_OR_RETURN(Visibility is, VisibilityOf(service, after, lookup));
    if (was != Visibility::kWithheld && is == Visibility::kWithheld) {
      moved.insert(std::string(kServicesEpoch));
    }
  }
  for (const std::string& principal : moved) {
    const std::string key = ViewEpochKey(after.scope(), principal);
    ASSIGN_OR_RETURN(std::optional<std::string> raw, ctx.Get(ColumnFamily::kIndexes, key));
    ASSIGN_OR_RETURN(const std::uint64_t epoch, ParseEpoch(raw));
    std::string bytes;
    AppendUint64(bytes, epoch + 1);
    ctx.Put(ColumnFamily::kIndexes, key, std::move(bytes));
  }
  return absl::OkStatus();
}

absl::Status RecordStore::ResolveChainBase(CommitContext& ctx, const Mutation& m,
                                           const std::optional<StoredMutation>& chained_on,
                                           const std::optional<Record>& head,
                                           Mutation* effective, std::optional<Record>* base) {
  if (!chained_on.has_value()) {
    return WithReason(absl::FailedPreconditionError(absl::StrCat(
                          "base mutation ", m.base_mutation_id(),
                          " has not been applied: push it first (or earlier in this batch)")),
                      "BASE_MUTATION_UNKNOWN");
  }
  const StoredMutation& stored = *chained_on;
  const MutationResult& prior = stored.result();
  if (prior.record_id() != m.record_id() || prior.revision() == 0 || !head.has_value() ||
      stored.device_id() != m.device_id()) {
    return WithReason(absl::InvalidArgumentError(absl::StrCat(
                          "base mutation ", m.base_mutation_id(),
                          " did not produce a revision of record ", m.record_id())),
                      "BASE_MUTATION_INVALID");
  }
  effective->set_base_revision(prior.revision());
  ASSIGN_OR_RETURN(*base, ReadRevision(ctx, head, m.record_id(), prior.revision(), *keys_));
  if (!base->has_value()) {
    return absl::DataLossError(absl::StrCat("history of ", m.record_id(), " lacks revision ",
                                            prior.revision()));
  }
  if (stored.has_pushed_body()) **base = sync::ChainedBase(std::move(**base), stored.pushed_body());
  return absl::OkStatus();
}

absl::StatusOr<vigil::v1::PushRequest> RecordStore::ParsePush(std::string_view wire) const {
  if (wire.size() > options_.max_batch_bytes) {
    return WithReason(absl::InvalidArgumentError(absl::StrCat(
                          "a push holds at most ", options_.max_batch_bytes, " bytes")),
                      "BATCH_TOO_LARGE");
  }
  vigil::v1::PushRequest request;
  if (request.ParseFromArray(wire.data(), static_cast<int>(wire.size()))) return request;
  // Find the mutation at fault: field 1 (mutations) is length-delimited.
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const std::uint8_t*>(wire.data()),
                                            static_cast<int>(wire.size()));
  int index = 0;
  while (std::uint32_t tag = in.ReadTag()) {
    if (tag != ((1u << 3) | 2u)) {
      if (!google::protobuf::internal::WireFormatLite::SkipField(&in, tag)) break;
      continue;
    }
    std::string bytes;
    std::uint32_t length = 0;
    Mutation m;
    if (!in.ReadVarint32(&length) || !in.ReadString(&bytes, static_cast<int>(length)) ||
        !m.ParseFromString(bytes)) {
      return WithReason(absl::InvalidArgumentError(absl::StrCat(
                            "mutation ", index,
                            " cannot be parsed: a text field holds invalid UTF-8, or the "
                            "bytes are not a Mutation")),
                        "MUTATION_MALFORMED", {{"index", std::to_string(index)}});
    }
    ++index;
  }
  return WithReason(absl::InvalidArgumentError("the push request cannot be parsed"),
                    "REQUEST_MALFORMED");
}

absl::Status RecordStore::ValidateBatch(const vigil::v1::PushRequest& request) const {
  if (request.mutations_size() == 0) {
    return WithReason(absl::InvalidArgumentError("a push holds at least one mutation"),
                      "BATCH_EMPTY");
  }
  if (static_cast<std::size_t>(request.mutations_size()) > options_.max_batch_mutations ||
      request.ByteSizeLong() > options_.max_batch_bytes) {
    return WithReason(absl::InvalidArgumentError(absl::StrCat(
                          "a push holds at most ", options_.max_batch_mutations,
                          " mutations and ", options_.max_batch_bytes, " bytes")),
                      "BATCH_TOO_LARGE");
  }
  for (int i = 0; i < request.mutations_size(); ++i) {
    const Mutation& m = request.mutations(i);
    if (absl::Status s = sync::ValidateRecordId(m.mutation_id()); !s.ok()) {
      return AtMutation(s, i, m, "MUTATION_ID_INVALID");
    }
    if (absl::Status s = sync::ValidateRecordId(m.record_id()); !s.ok()) {
      return AtMutation(s, i, m, "RECORD_ID_INVALID");
    }
    if (m.body().ByteSizeLong() > options_.max_body_bytes) {
      return AtMutation(absl::InvalidArgumentError(absl::StrCat(
                            "body is larger than ", options_.max_body_bytes, " bytes")),
                        i, m, "BODY_TOO_LARGE");
    }
    if (!m.delete_() && m.body().kind_case() == vigil::v1::RecordBody::KIND_NOT_SET) {
      return AtMutation(absl::InvalidArgumentError("body has no kind"), i, m, "BODY_KIND_MISSING");
    }
    if (!m.base_edit_id().empty()) {
      if (absl::Status s = sync::ValidateRecordId(m.base_edit_id()); !s.ok()) {
        return AtMutation(s, i, m, "BASE_EDIT_INVALID");
      }
    }
    if (!m.base_mutation_id().empty()) {
      if (absl::Status s = sync::ValidateRecordId(m.base_mutation_id()); !s.ok()) {
        return AtMutation(s, i, m, "BASE_MUTATION_INVALID");
      }
    } else if (m.base_revision() == 0 && !m.delete_()) {
      if (absl::Status s = ValidateScope(m.scope()); !s.ok()) {
        return AtMutation(s, i, m, "SCOPE_INVALID");
      }
    }
  }
  return absl::OkStatus();
}

void RecordStore::Push(const Caller& caller, vigil::v1::PushRequest request, PushDoneFn done) {
  if (absl::Status s = ValidateBatch(request); !s.ok()) {
    done(s);
    return;
  }
  // Who wrote a value is who the server authenticated, whatever the device
  // claims.
  for (Mutation& m : *request.mutable_mutations()) {
    m.set_author(caller.principal);
    m.set_device_id(caller.device);
  }
  auto response = std::make_shared<vigil::v1::PushResponse>();
  auto touched = std::make_shared<std::map<std::string, std::uint64_t>>();
  storage_->Submit(
      [this, caller, request = std::move(request), response,
       touched](CommitContext& ctx) mutable -> absl::Status {
        const absl::Time now = absl::Now();
        storage::AuditAppender audit(ctx);
        std::map<std::string, bool> lock_cache;  // scope -> locked, within this batch
        std::map<std::string, ScopeGrant> grants;  // scope -> the caller's rights
        // The caller's rights in `scope`; PERMISSION_DENIED unless it may write.
        auto writable = [&](const std::string& scope) -> absl::StatusOr<const ScopeGrant*> {
          auto it = grants.find(scope);
          if (it == grants.end()) {
            // Read through this commit: a change of rights earlier in the
            // same write group (a removal from the team) applies.
            ASSIGN_OR_RETURN(ScopeGrant grant, policy_->Grant(caller, scope, ctx));
            it = grants.emplace(scope, std::move(grant)).first;
          }
          if (!it->second.write) return AccessPolicy::Denied();
          return &it->second;
        };
        for (int i = 0; i < request.mutations_size(); ++i) {
          Mutation& m = *request.mutable_mutations(i);
          MutationResult* result = response->add_results();
          const std::string mutation_key = MutationKey(m.mutation_id());
          auto denied = [&] {
            return AtMutation(AccessPolicy::Denied(), i, m, "SCOPE_NOT_PERMITTED");
          };
          const std::string fingerprint = Fingerprint(m);
          ASSIGN_OR_RETURN(auto seen, ctx.Get(ColumnFamily::kMutations, mutation_key));
          if (seen.has_value()) {
            ASSIGN_OR_RETURN(StoredMutation stored,
                             Decode<StoredMutation>(*seen, mutation_key, *keys_));
            // The first result is only for the device that pushed it.
            if (stored.device_id() != caller.device) return denied();
            // A resend gets it; the same id on another edit is a device's
            // bug that would silently lose that edit.
            if (!stored.fingerprint().empty() && stored.fingerprint() != fingerprint) {
              return AtMutation(absl::AlreadyExistsError(
                                    "this mutation id was already used for another edit; "
                                    "give every edit its own id"),
                                i, m, "MUTATION_ID_REUSED");
            }
            *result = stored.result();
            result->set_duplicate(true);
            continue;
          }
          ASSIGN_OR_RETURN(auto head, ReadRecord(ctx, ColumnFamily::kRecords,
                                                 RecordKey(m.record_id()), *keys_));
          // Rights first, so that a caller without them learns nothing about
          // the record (not even whether it exists).
          const std::string& target_scope = head.has_value() ? head->scope() : m.scope();
          absl::StatusOr<const ScopeGrant*> grant = writable(target_scope);
          if (!grant.ok()) {
            if (grant.status().code() != absl::StatusCode::kPermissionDenied) {
              return grant.status();
            }
            return denied();
          }
          // A create naming another scope than the record's (its id is taken
          // elsewhere) is refused like any denial: ids are not squatted
          // across scopes.
          if (head.has_value() && m.base_revision() == 0 && !m.scope().empty() &&
              m.scope() != head->scope()) {
            return denied();
          }
          // A visit's own record lives in its scope and nowhere else: it is
          // what locks the scope.
          if (!head.has_value() && m.body().has_visit() &&
              target_scope != "visits/" + m.record_id()) {
            return AtMutation(absl::InvalidArgumentError(
                                  "a Visit record lives in the scope visits/{its id}"),
                              i, m, "SCOPE_INVALID");
          }
          auto same_scope = [&](std::string_view id) -> absl::StatusOr<std::optional<Record>> {
            ASSIGN_OR_RETURN(auto found, ReadRecord(ctx, ColumnFamily::kRecords,
                                                    RecordKey(id), *keys_));
            if (found.has_value() && found->scope() != target_scope) found.reset();
            return found;
          };
          if (head.has_value()) {
            ASSIGN_OR_RETURN(Visibility seen_as, VisibilityOf(**grant, *head, same_scope));
            if (seen_as != Visibility::kFull) return denied();
          }
          if (head.has_value()) {
            if (m.base_revision() > head->revision()) {
              return AtMutation(absl::InvalidArgumentError(absl::StrCat(
                                    "base revision ", m.base_revision(),
                                    " is newer than the record's revision ", head->revision())),
                                i, m, "BASE_REVISION_IN_FUTURE");
            }
            if (!m.delete_() && m.body().kind_case() != head->body().kind_case()) {
              return AtMutation(absl::InvalidArgumentError(
                                    "body is of another kind than the record"),
                                i, m, "BODY_WRONG_KIND");
            }
          }
          if (!head.has_value() && (m.base_revision() != 0 || m.delete_())) {
            return AtMutation(absl::NotFoundError(absl::StrCat("record ", m.record_id(),
                                                               " does not exist")),
                              i, m, "MUTATION_TARGET_NOT_FOUND");
          }
          const std::string scope = head.has_value() ? head->scope() : m.scope();
          // An edit chained on one held as a late submission (same record,
          // same device) is held with it: its base was never applied.
          std::optional<StoredMutation> chained_on;
          if (!m.base_mutation_id().empty()) {
            const std::string base_key = MutationKey(m.base_mutation_id());
            ASSIGN_OR_RETURN(auto raw_base, ctx.Get(ColumnFamily::kMutations, base_key));
            if (raw_base.has_value()) {
              ASSIGN_OR_RETURN(chained_on, Decode<StoredMutation>(*raw_base, base_key, *keys_));
            }
          }
          const bool chained_on_late = chained_on.has_value() &&
                                       chained_on->result().late_submission() &&
                                       chained_on->result().record_id() == m.record_id() &&
                                       chained_on->device_id() == m.device_id();
          if (!head.has_value() && !m.base_mutation_id().empty()) {
            // A chain on a create that is not applied: legitimate only when
            // that create was held as a late submission (same scope).
            if (!chained_on_late) {
              return AtMutation(absl::NotFoundError(absl::StrCat(
                                    "record ", m.record_id(), " does not exist")),
                                i, m, "MUTATION_TARGET_NOT_FOUND");
            }
            // The device names the scope of the record it created.
            if (absl::Status s = ValidateScope(m.scope()); !s.ok()) {
              return AtMutation(s, i, m, "SCOPE_INVALID");
            }
          }
          result->set_mutation_id(m.mutation_id());
          result->set_record_id(m.record_id());
          // A change of the visit record itself may lock or unlock its scope,
          // so it is never answered from (and clears) the batch's cache.
          const bool is_visit_record =
              absl::StartsWith(scope, "visits/") && scope.substr(7) == m.record_id();
          auto cached = lock_cache.find(scope);
          bool locked = false;
          if (cached != lock_cache.end() && !is_visit_record) {
            locked = cached->second;
          } else {
            ASSIGN_OR_RETURN(locked, VisitLocked(ctx, scope, *keys_));
            if (is_visit_record) {
              lock_cache.erase(scope);
            } else {
              lock_cache[scope] = locked;
            }
          }
          if (is_visit_record && (**grant).reviewer) locked = false;
          locked = locked || chained_on_late;
          // From here on the mutation is as the server takes it (accepted
          // HLC, chained base); it is edited in place rather than copied.
          Mutation& effective = m;
          // A device clock far ahead is clamped, so one wrong tablet cannot
          // win every later conflict; the accepted time is what is stored.
          absl::StatusOr<sync::HlcReceipt> received = clock_.Receive(m.hlc(), now);
          if (!received.ok()) return AtMutation(received.status(), i, m, "HLC_INVALID");
          *effective.mutable_hlc() = received->accepted_remote;
          // A mutation held for a locked visit is checked as if it were
          // applied now (its base, the conflicts it resolves, its body), so
          // that nonsense is refused rather than queued; one chained on a
          // held edit has no applied base to check against.
          std::optional<Record> base;
          std::optional<sync::ApplyOutcome> outcome;
          if (!chained_on_late) {
            if (!m.base_mutation_id().empty()) {
              absl::Status chained = ResolveChainBase(ctx, m, chained_on, head, &effective, &base);
              if (!chained.ok()) {
                return AtMutation(
                    chained, i, m,
                    ReasonOf(chained).value_or(std::string(ReasonFor(chained.code()))));
              }
            } else if (head.has_value() && m.base_revision() > 0 &&
                       m.base_revision() < head->revision()) {
              ASSIGN_OR_RETURN(base,
                               ReadRevision(ctx, head, m.record_id(), m.base_revision(), *keys_));
              if (!base.has_value()) {
                return absl::DataLossError(absl::StrCat("history of ", m.record_id(),
                                                        " lacks revision ", m.base_revision()));
              }
            }
            if (m.base_mutation_id().empty() && !m.base_edit_id().empty() && head.has_value() &&
                m.base_revision() > 0) {
              const Record* made_on =
                  m.base_revision() == head->revision() ? &*head : (base ? &*base : nullptr);
              if (made_on == nullptr || made_on->updated().mutation_id() != m.base_edit_id()) {
                return AtMutation(
                    absl::FailedPreconditionError(absl::StrCat(
                        "revision ", m.base_revision(), " of record ", m.record_id(),
                        " is not the one this edit was made on (was the server restored from "
                        "an older backup?): pull, then edit again")),
                    i, m, "BASE_REVISION_UNKNOWN");
              }
            }
            absl::StatusOr<sync::ApplyOutcome> applied = sync::ApplyMutation(
                head ? &*head : nullptr, base ? &*base : nullptr, effective, now);
            if (!applied.ok()) {
              return AtMutation(applied.status(), i, m, ReasonFor(applied.status().code()));
            }
            // Nobody writes what they could not read back in full (an
            // interview without themselves as interviewer, an identity of
            // someone else's interview).
            ASSIGN_OR_RETURN(Visibility after,
                             VisibilityOf(**grant, applied->record, same_scope));
            if (after != Visibility::kFull) return denied();
            outcome = std::move(*applied);
          }
          if (locked) {
            const std::string late_key = LateKey(scope, m.mutation_id());
            ctx.Put(ColumnFamily::kIndexes, late_key, Encode(m, true, late_key, *keys_));
            result->set_late_submission(true);
            StoredMutation stored;
            *stored.mutable_result() = *result;
            stored.set_device_id(caller.device);
            stored.set_fingerprint(fingerprint);
            ctx.Put(ColumnFamily::kMutations, mutation_key,
                    Encode(stored, false, mutation_key, *keys_));
            RETURN_IF_ERROR(audit.Append(
                AuditOf(caller, "record.late_submission", "records/" + m.record_id())));
            continue;
          }
          // The review workflow's states are not the field team's to set.
          if (outcome->record.body().has_visit() &&
              !MayMoveVisit(**grant,
                            head.has_value() && head->body().has_visit()
                                ? head->body().visit().state()
                                : vigil::v1::VISIT_STATE_UNSPECIFIED,
                            outcome->record.body().visit().state())) {
            return AtMutation(
                absl::PermissionDeniedError(
                    "only the NPM unit approves or publishes a visit, or takes it back"),
                i, m, "VISIT_STATE_NOT_PERMITTED");
          }
          result->set_clean(outcome->clean);
          for (const auto& id : outcome->conflict_ids) result->add_conflict_ids(id);
          if (!outcome->changed) {
            result->set_revision(head ? head->revision() : 0);
          } else {
            Record& record = outcome->record;
            RETURN_IF_ERROR(MoveViewEpochs(ctx, head, record, same_scope));
            record.set_seq(ctx.NextSeq());
            const bool sensitive = IsSensitive(record.body());
            const std::string record_key = RecordKey(record.id());
            if (head.has_value()) {
              ctx.Delete(ColumnFamily::kChanges, ChangeKey(head->scope(), head->seq()));
              // The superseded head joins the history; the new head is the
              // newest revision, so history never stores it twice.
              const std::string old_key = HistoryKey(head->id(), head->revision());
              ctx.Put(ColumnFamily::kHistory, old_key,
                      Encode(*head, IsSensitive(head->body()), old_key, *keys_));
            }
            ctx.Put(ColumnFamily::kChanges, ChangeKey(record.scope(), record.seq()), record.id());
            ctx.Put(ColumnFamily::kRecords, record_key,
                    Encode(record, sensitive, record_key, *keys_));
            result->set_revision(record.revision());
            (*touched)[record.scope()] = record.seq();
            RETURN_IF_ERROR(audit.Append(
                AuditOf(caller, record.deleted() ? "record.delete" : "record.write",
                        "records/" + record.id())));
          }
          StoredMutation stored;
          *stored.mutable_result() = *result;
          stored.set_device_id(caller.device);
          stored.set_fingerprint(fingerprint);
          // Keep what was pushed when the revision differs from it (merged):
          // a later mutation chained on this one is merged against it.
          const bool taken_as_is =
              !head.has_value() || (effective.base_revision() == head->revision() && !base);
          if (!m.delete_() && outcome->changed && !taken_as_is &&
              sync::SerializeDeterministic(outcome->record.body()) !=
                  sync::SerializeDeterministic(m.body())) {
            *stored.mutable_pushed_body() = m.body();
          }
          ctx.Put(ColumnFamily::kMutations, mutation_key,
                  Encode(stored, IsSensitive(m.body()), mutation_key, *keys_));
        }
        return absl::OkStatus();
      },
      [this, response, touched, done = std::move(done)](
          absl::StatusOr<storage::CommitResult> committed) mutable {
        if (!committed.ok()) {
          done(committed.status());
          return;
        }
        if (!touched->empty() && listener_) {
          listener_(std::vector<std::pair<std::string, std::uint64_t>>(touched->begin(),
                                                                       touched->end()));
        }
        done(std::move(*response));
      });
}

std::string RecordStore::EncodeCursor(absl::string_view scope, std::uint64_t seq,
                                      std::uint8_t view, std::uint64_t epoch) const {
  std::string payload(1, static_cast<char>(kCursorVersion));
  AppendUint64(payload, seq);
  payload.push_back(static_cast<char>(view));
  AppendUint64(payload, epoch);
  const std::string authenticated = payload + std::string(scope);
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256(mac, reinterpret_cast<const unsigned char*>(authenticated.data()),
                         authenticated.size(),
                         reinterpret_cast<const unsigned char*>(cursor_key_.data()));
  payload.append(reinterpret_cast<const char*>(mac), kCursorMacBytes);
  std::string out(sodium_base64_ENCODED_LEN(payload.size(),
                                            sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                  '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(payload.data()),
                    payload.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

absl::StatusOr<RecordStore::CursorPosition> RecordStore::DecodeCursor(
    absl::string_view scope, absl::string_view cursor) const {
  if (cursor.empty()) return CursorPosition{};
  auto invalid = [&] {
    return CursorInvalid(scope,
                         "cursor is malformed, was altered, or belongs to another scope or "
                         "server: pull this scope from the beginning");
  };
  unsigned char payload[1 + 8 + 1 + 8 + kCursorMacBytes];
  std::size_t len = 0;
  if (sodium_base642bin(payload, sizeof(payload), cursor.data(), cursor.size(), nullptr, &len,
                        nullptr, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      len == 0) {
    return invalid();
  }
  std::size_t body = 0;
  switch (payload[0]) {
    case kCursorVersion: body = 18; break;
    case kCursorVersionWithoutEpoch: body = 10; break;
    case kCursorVersionWithoutView: body = 9; break;
    default: return invalid();
  }
  if (len != body + kCursorMacBytes) return invalid();
  std::string authenticated(reinterpret_cast<const char*>(payload), body);
  authenticated += std::string(scope);
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256(mac, reinterpret_cast<const unsigned char*>(authenticated.data()),
                         authenticated.size(),
                         reinterpret_cast<const unsigned char*>(cursor_key_.data()));
  if (sodium_memcmp(mac, payload + body, kCursorMacBytes) != 0) return invalid();
  CursorPosition position;
  position.seq = ReadUint64(payload + 1);
  if (body >= 10) position.view = payload[9];
  if (body == 18) {
    position.epoch = ReadUint64(payload + 10);
  }
  return position;
}

void RecordStore::AuditReads(const Caller& caller, std::vector<std::string> sensitive_ids,
                             absl::AnyInvocable<void(absl::Status)> done) {
  if (sensitive_ids.empty()) return done(absl::OkStatus());
  storage_->Submit(
      [caller, ids = std::move(sensitive_ids)](CommitContext& ctx) -> absl::Status {
        storage::AuditAppender audit(ctx);
        for (const std::string& id : ids) {
          RETURN_IF_ERROR(audit.Append(AuditOf(caller, "record.read", "records/" + id)));
        }
        return absl::OkStatus();
      },
      [done = std::move(done)](absl::StatusOr<storage::CommitResult> committed) mutable {
        done(committed.status());
      });
}

void RecordStore::Pull(const Caller& caller, const vigil::v1::PullRequest& request,
                       PullDoneFn done) {
  std::vector<std::string> sensitive_ids;
  absl::StatusOr<std::string> page = ReadPage(caller, request, sensitive_ids);
  if (!page.ok()) return done(page.status());
  // Sensitive content leaves the server only once its read is in the audit log.
  AuditReads(caller, std::move(sensitive_ids),
             [page = std::move(*page), done = std::move(done)](absl::Status audited) mutable {
               if (!audited.ok()) return done(audited);
               done(std::move(page));
             });
}

absl::StatusOr<std::string> RecordStore::ReadPage(const Caller& caller,
                                                  const vigil::v1::PullRequest& request,
                                                  std::vector<std::string>& sensitive_ids) {
  RETURN_IF_ERROR(ValidateScope(request.scope()));
  // Rights and records are read at one snapshot.
  storage::Snapshot snapshot = storage_->GetSnapshot();
  storage::StorageView at_snapshot(*storage_, &snapshot);
  ASSIGN_OR_RETURN(ScopeGrant grant, policy_->Grant(caller, request.scope(), at_snapshot));
  if (grant.purge) return std::string("\x20\x01", 2);  // field 4 (purge) = true
  if (!grant.read) return AccessPolicy::Denied();
  ASSIGN_OR_RETURN(CursorPosition position, DecodeCursor(request.scope(), request.cursor()));
  std::uint64_t after = position.seq;
  // The caller's view changed since the cursor (another team role, a
  // reviewer's rights): the records it holds were shaped for the old view,
  // so the scope starts again from the beginning, and the page says so.
  // So does a move of the caller's view epoch (an interview gained or lost
  // them as interviewer; a record services saw is withheld from them now).
  const std::uint8_t view = ViewOf(grant);
  ASSIGN_OR_RETURN(std::optional<std::string> raw_epoch,
                   storage_->Get(ColumnFamily::kIndexes,
                                 ViewEpochKey(request.scope(),
                                              grant.service ? kServicesEpoch : grant.user_id),
                                 &snapshot));
  ASSIGN_OR_RETURN(const std::uint64_t epoch, ParseEpoch(raw_epoch));
  const bool reset = after > 0 && (position.view != view || position.epoch != epoch);
  if (reset) after = 0;
  std::uint32_t limit = request.limit() == 0 ? options_.default_pull_limit : request.limit();
  limit = std::min(limit, options_.max_pull_limit);
  if (after > snapshot.seq()) {
    // Only a database restored to an earlier point (with its cursor key)
    // can be behind a cursor it issued; restore also replaces that key, so
    // this is a second line of defence against silently skipping changes.
    return CursorInvalid(request.scope(),
                         "cursor is ahead of this server's data: pull this scope from the "
                         "beginning");
  }
  std::vector<std::pair<std::uint64_t, std::string>> changed;
  absl::Status malformed;
  RETURN_IF_ERROR(storage_->Scan(
      ColumnFamily::kChanges,
      storage::KeyRange{ChangeKey(request.scope(), after + 1),
                        storage::PrefixSuccessor(ChangePrefix(request.scope()))},
      &snapshot, [&](std::string_view key, std::string_view value) {
        auto reader = storage::KeyReader::Create(key);
        absl::StatusOr<std::uint64_t> seq = absl::DataLossError("malformed change key");
        if (reader.ok() && reader->ReadString().ok()) seq = reader->ReadUint64();
        if (!seq.ok()) {
          malformed = seq.status();
          return false;
        }
        changed.emplace_back(*seq, std::string(value));
        return changed.size() <= limit;
      }));
  RETURN_IF_ERROR(malformed);
  bool has_more = changed.size() > limit;
  if (has_more) changed.resize(limit);
  auto same_scope = [&](std::string_view id) -> absl::StatusOr<std::optional<Record>> {
    return ReadInScope(id, request.scope(), snapshot);
  };
  // The response is assembled from the stored record bytes: a Record is
  // stored as its deterministic serialization, so it goes out as it is,
  // without a parse and a second serialization (field 1, length-delimited).
  // Only records that some callers see in part are parsed and redacted.
  std::string out;
  // One allocation for the page (growing a megabyte string copies it).
  out.reserve(options_.max_pull_bytes + (256 << 10));
  std::uint64_t last = after;
  // Appends the record of change `i`, stored as `raw`, as the caller may see it.
  auto append = [&](std::size_t i, const std::string& key,
                    std::optional<std::string_view> raw) -> absl::Status {
    const auto& [seq, id] = changed[i];
    if (!raw.has_value() || raw->empty()) {
      return absl::DataLossError(absl::StrCat("change of missing record ", id));
    }
    last = seq;
    const bool sealed = (*raw)[0] != '\0';
    if (!sealed && !grant.service) {  // no redaction applies to plain kinds
      AppendLengthDelimited(out, 1, raw->substr(1));
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(Record record, Decode<Record>(*raw, key, *keys_));
    ASSIGN_OR_RETURN(Visibility visibility, Redact(grant, record, same_scope));
    if (visibility == Visibility::kWithheld) return absl::OkStatus();
    if (IsSensitive(record.body())) sensitive_ids.push_back(record.id());
    AppendLengthDelimited(out, 1, sync::SerializeDeterministic(record));
    return absl::OkStatus();
  };
  // Records are read in batched lookups of a few hundred keys, and copied
  // from the storage's buffers straight into the page.
  constexpr std::size_t kLookupBatch = 256;
  std::vector<std::string> keys;
  absl::Status failed;
  bool full = false;
  for (std::size_t begin = 0; begin < changed.size() && !full; begin += kLookupBatch) {
    const std::size_t end = std::min(changed.size(), begin + kLookupBatch);
    keys.clear();
    for (std::size_t j = begin; j < end; ++j) keys.push_back(RecordKey(changed[j].second));
    RETURN_IF_ERROR(storage_->MultiGet(
        ColumnFamily::kRecords, keys, &snapshot,
        [&](std::size_t k, std::optional<std::string_view> raw) {
          failed = append(begin + k, keys[k], raw);
          if (!failed.ok()) return false;
          // Pages also stop at a byte budget (after at least one record),
          // so that a page always fits a client's default 4 MiB message
          // limit.
          if (out.size() >= options_.max_pull_bytes && begin + k + 1 < changed.size()) {
            full = true;
            has_more = true;
            return false;
          }
          return true;
        }));
    RETURN_IF_ERROR(failed);
  }
  AppendLengthDelimited(out, 2, EncodeCursor(request.scope(), last, view, epoch));
  if (has_more) out += std::string("\x18\x01", 2);  // field 3 (has_more) = true
  if (reset) out += std::string("\x28\x01", 2);     // field 5 (reset) = true
  return out;
}

absl::StatusOr<std::optional<Record>> RecordStore::ReadInScope(std::string_view id,
                                                               std::string_view scope,
                                                               const storage::Snapshot& snapshot) {
  const std::string key = RecordKey(id);
  ASSIGN_OR_RETURN(auto raw, storage_->Get(ColumnFamily::kRecords, key, &snapshot));
  if (!raw.has_value()) return std::nullopt;
  ASSIGN_OR_RETURN(Record record, Decode<Record>(*raw, key, *keys_));
  if (record.scope() != scope) return std::nullopt;
  return record;
}

void RecordStore::History(const Caller& caller, const vigil::v1::GetHistoryRequest& request,
                          HistoryDoneFn done) {
  std::vector<std::string> sensitive_ids;
  absl::StatusOr<vigil::v1::GetHistoryResponse> page =
      ReadHistory(caller, request, sensitive_ids);
  if (!page.ok()) return done(page.status());
  AuditReads(caller, std::move(sensitive_ids),
             [page = std::move(*page), done = std::move(done)](absl::Status audited) mutable {
               if (!audited.ok()) return done(audited);
               done(std::move(page));
             });
}

absl::StatusOr<vigil::v1::GetHistoryResponse> RecordStore::ReadHistory(
    const Caller& caller, const vigil::v1::GetHistoryRequest& request,
    std::vector<std::string>& sensitive_ids) {
  if (absl::Status s = sync::ValidateRecordId(request.record_id()); !s.ok()) {
    return WithReason(s, "RECORD_ID_INVALID", {{"record_id", request.record_id()}});
  }
  std::uint64_t from = 1;
  if (!request.page_token().empty() &&
      (!absl::SimpleAtoi(request.page_token(), &from) || from == 0)) {
    return WithReason(absl::InvalidArgumentError("page_token is malformed"), "PAGE_TOKEN_INVALID");
  }
  const std::uint32_t page =
      request.page_size() == 0 ? 100 : std::min<std::uint32_t>(request.page_size(), 1000);
  storage::Snapshot snapshot = storage_->GetSnapshot();
  const std::string head_key = RecordKey(request.record_id());
  ASSIGN_OR_RETURN(auto raw_head, storage_->Get(ColumnFamily::kRecords, head_key, &snapshot));
  if (!raw_head.has_value()) {
    // Only a caller who could read it anywhere learns that it does not exist.
    if (caller.role != vigil::v1::ROLE_NPM_REVIEWER) return AccessPolicy::Denied();
    return WithReason(absl::NotFoundError("no such record"), "RECORD_NOT_FOUND",
                      {{"record_id", request.record_id()}});
  }
  ASSIGN_OR_RETURN(Record head, Decode<Record>(*raw_head, head_key, *keys_));
  storage::StorageView at_snapshot(*storage_, &snapshot);
  ASSIGN_OR_RETURN(ScopeGrant grant, policy_->RequireRead(caller, head.scope(), at_snapshot));
  auto same_scope = [&](std::string_view id) -> absl::StatusOr<std::optional<Record>> {
    return ReadInScope(id, head.scope(), snapshot);
  };
  // A withheld record is withheld with all its history; otherwise each
  // revision is shown as it itself may be seen (an attachment once marked
  // identifiable, a visit once an unannounced plan), and a revision the
  // caller may not see at all is left out.
  ASSIGN_OR_RETURN(Visibility visibility, VisibilityOf(grant, head, same_scope));
  if (visibility == Visibility::kWithheld) return AccessPolicy::Denied();
  // History holds revisions 1..head-1; the head is the last one.
  vigil::v1::GetHistoryResponse response;
  absl::Status decoded;
  std::size_t bytes = 0;
  std::uint32_t read = 0;        // revisions read for this page, shown or not
  std::uint64_t last_read = 0;   // the newest of them
  bool full = false;  // the byte budget ended the page
  RETURN_IF_ERROR(storage_->Scan(
      ColumnFamily::kHistory,
      storage::KeyRange{HistoryKey(request.record_id(), from),
                        HistoryKey(request.record_id(), head.revision())},
      &snapshot, [&](std::string_view key, std::string_view value) {
        if (read == page) return false;
        if (bytes >= options_.max_pull_bytes) {
          full = true;
          return false;
        }
        bytes += value.size();
        absl::StatusOr<Record> record = Decode<Record>(value, key, *keys_);
        if (!record.ok()) {
          decoded = record.status();
          return false;
        }
        ++read;
        last_read = record->revision();
        absl::StatusOr<Visibility> shown = Redact(grant, *record, same_scope);
        if (!shown.ok()) {
          decoded = shown.status();
          return false;
        }
        if (*shown != Visibility::kWithheld) *response.add_revisions() = std::move(*record);
        return true;
      }));
  RETURN_IF_ERROR(decoded);
  RETURN_IF_ERROR(Redact(grant, head, same_scope).status());
  if (!full && read < page && from <= head.revision()) {
    *response.add_revisions() = std::move(head);
  } else if (last_read > 0 && last_read < head.revision()) {
    response.set_next_page_token(std::to_string(last_read + 1));
  }
  if (IsSensitive(head.body())) sensitive_ids.push_back(head.id());
  return response;
}

}  // namespace vigil::server
