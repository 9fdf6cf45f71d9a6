// Local edits: mutations stamped by this device, the outbox, parked edits.
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/error_reason.h"
#include "base/sha256.h"
#include "base/status_macros.h"
#include "client/attachment_copies.h"
#include "client/local_store.h"
#include "client/replica_impl.h"
#include "storage/storage.h"
#include "sync/ids.h"
#include "sync/merge.h"
#include "sync/record_merge.h"
#include "sync/scope.h"
#include "vigil/v1/admin.grpc.pb.h"
#include "vigil/v1/sync.grpc.pb.h"

namespace vigil::client {

using namespace detail;  // NOLINT: the store's own helpers

absl::StatusOr<Mutation> Replica::Impl::NewMutation(storage::CommitContext& ctx, const ClientProfile& profile,
                                     const std::string& record_id,
                                     std::string mutation_id) {
  Mutation m;
  if (mutation_id.empty()) {
    ASSIGN_OR_RETURN(mutation_id, NewId());
  }
  m.set_mutation_id(mutation_id);
  m.set_record_id(record_id);
  m.set_author(profile.user_id());
  m.set_device_id(profile.device_id());
  vigil::internal::StoredClock stored;
  {
    absl::MutexLock lock(&clock_mu_);
    *m.mutable_hlc() = clock_.Now(absl::Now());
    *stored.mutable_last() = clock_.last();
  }
  Store(sealer_, ctx, kClockKey, stored);
  return m;
}

absl::Status Replica::Impl::Enqueue(storage::CommitContext& ctx, Mutation m) {
  absl::Status counter = absl::OkStatus();
  const std::uint64_t n = NextCounter(ctx, kOutSeqKey, &counter);
  RETURN_IF_ERROR(counter);
  OutboxEntry entry;
  *entry.mutable_mutation() = std::move(m);
  Store(sealer_, ctx, OutboxKey(n), entry);
  return absl::OkStatus();
}

absl::StatusOr<std::string> Replica::Impl::CreateIn(storage::CommitContext& ctx, const ClientProfile& profile,
                                     const std::string& scope, const RecordBody& body,
                                     std::string id, const std::string& mutation_id) {
  if (body.kind_case() == RecordBody::KIND_NOT_SET) {
    return absl::InvalidArgumentError("a record body needs a kind");
  }
  if (id.empty()) {
    ASSIGN_OR_RETURN(id, NewId());
  } else {
    RETURN_IF_ERROR(sync::ValidateRecordId(id));
    ASSIGN_OR_RETURN(std::optional<std::string> held, ctx.Get(kMeta, RecordKey(id)));
    if (held.has_value()) {
      return absl::AlreadyExistsError(absl::StrCat("record ", id, " is already on this device"));
    }
  }
  ASSIGN_OR_RETURN(Mutation m, NewMutation(ctx, profile, id, mutation_id));
  m.set_scope(scope);
  *m.mutable_body() = body;
  LocalRecord rec;
  *rec.mutable_body() = body;
  rec.set_scope(scope);
  rec.set_dirty(true);
  rec.set_last_mutation_id(m.mutation_id());
  rec.set_queued(1);
  Store(sealer_, ctx, RecordKey(id), rec);
  ctx.Put(kMeta, InScopeKey(scope, id), "");
  RETURN_IF_ERROR(Enqueue(ctx, std::move(m)));
  return id;
}

absl::StatusOr<std::string> Replica::Impl::Create(const std::string& scope, const RecordBody& body,
                                   const std::string& wanted) {
  if (scope.empty()) return absl::InvalidArgumentError("a record needs a scope");
  ASSIGN_OR_RETURN(ClientProfile profile, Profile());
  std::string id;
  RETURN_IF_ERROR(db_->Commit([&](storage::CommitContext& ctx) -> absl::Status {
                       ASSIGN_OR_RETURN(id, CreateIn(ctx, profile, scope, body, wanted));
                       return absl::OkStatus();
                     })
                      .status());
  return id;
}

absl::Status Replica::Impl::Change(const std::string& record_id, const RecordBody* body, bool del,
                    const std::vector<std::string>* resolves,
                    std::uint64_t made_on) {
  ASSIGN_OR_RETURN(ClientProfile profile, Profile());
  return db_
      ->Commit([&](storage::CommitContext& ctx) -> absl::Status {
        return ChangeIn(ctx, profile, record_id, body, del, resolves,
                        made_on > 0 ? std::optional<std::uint64_t>(made_on) : std::nullopt);
      })
      .status();
}

absl::Status Replica::Impl::ChangeIn(storage::CommitContext& ctx, const ClientProfile& profile,
                      const std::string& record_id, const RecordBody* body, bool del,
                      const std::vector<std::string>* resolves,
                      std::optional<std::uint64_t> made_on, bool onto_deleted,
                      const std::string& mutation_id) {
  ASSIGN_OR_RETURN(std::optional<LocalRecord> rec,
                   LoadIn<LocalRecord>(sealer_, ctx, RecordKey(record_id)));
  if (!rec.has_value()) {
    return absl::NotFoundError(absl::StrCat("no record ", record_id, " on this device"));
  }
  if (rec->deleted() && !onto_deleted) {
    return absl::FailedPreconditionError(
        absl::StrCat("record ", record_id, " is deleted"));
  }
  if (body != nullptr && body->kind_case() != rec->body().kind_case()) {
    return absl::InvalidArgumentError(
        absl::StrCat("record ", record_id, " is of another kind"));
  }
  ASSIGN_OR_RETURN(Mutation m, NewMutation(ctx, profile, record_id, mutation_id));
  if (resolves != nullptr) {
    if (rec->dirty() || rec->queued() > 0) {
      return absl::FailedPreconditionError(
          "the record has local edits not yet synced: sync first, then resolve on the "
          "head the conflicts are on");
    }
    for (const std::string& c : *resolves) m.add_resolves_conflict_ids(c);
  }
  if (!rec->last_mutation_id().empty()) {
    m.set_base_mutation_id(rec->last_mutation_id());
  } else if (made_on.has_value() && *made_on < rec->server().revision()) {
    m.set_base_revision(*made_on);
  } else {
    m.set_base_revision(rec->server().revision());
    // Refused if that revision number names another change on the server
    // (restored from an older backup), rather than merged against it.
    m.set_base_edit_id(rec->server().updated().mutation_id());
  }
  // The server needs it for an edit chained on a create it holds for
  // a locked visit (the record does not exist there yet).
  m.set_scope(rec->scope());
  if (!rec->dirty()) *rec->mutable_base() = rec->server();
  rec->set_dirty(true);
  rec->set_last_mutation_id(m.mutation_id());
  rec->set_queued(rec->queued() + 1);
  if (del) {
    m.set_delete_(true);
    rec->set_deleted(true);
  } else {
    *m.mutable_body() = *body;
    *rec->mutable_body() = *body;
  }
  Store(sealer_, ctx, RecordKey(record_id), *rec);
  return Enqueue(ctx, std::move(m));
}

absl::Status Replica::Impl::Park(const std::string& outbox_key, const ParkedMutation& parked) {
  return db_
      ->Commit([&](storage::CommitContext& ctx) -> absl::Status {
        ctx.Delete(kMeta, outbox_key);
        absl::Status counter = absl::OkStatus();
        const std::uint64_t n = NextCounter(ctx, kParkSeqKey, &counter);
        RETURN_IF_ERROR(counter);
        Store(sealer_, ctx, ParkKey(n), parked);
        const std::string& id = parked.mutation().record_id();
        ASSIGN_OR_RETURN(std::optional<LocalRecord> rec, LoadIn<LocalRecord>(sealer_, ctx, RecordKey(id)));
        if (!rec.has_value()) return absl::OkStatus();
        rec->set_queued(rec->queued() > 0 ? rec->queued() - 1 : 0);
        if (rec->last_mutation_id() == parked.mutation().mutation_id() && rec->queued() == 0) {
          rec->clear_last_mutation_id();
        }
        StoreSettled(ctx, id, *rec);
        return absl::OkStatus();
      })
      .status();
}

void Replica::Impl::StoreSettled(storage::CommitContext& ctx, const std::string& id, LocalRecord& rec) {
  if (rec.queued() == 0 && rec.acked_revision() <= rec.server().revision()) {
    if (rec.server().revision() == 0) {
      ctx.Delete(kMeta, RecordKey(id));
      ctx.Delete(kMeta, InScopeKey(rec.scope(), id));
      return;
    }
    ShowServer(rec);
  }
  Store(sealer_, ctx, RecordKey(id), rec);
}

void Replica::Impl::ShowServer(LocalRecord& rec) {
  *rec.mutable_body() = rec.server().body();
  rec.set_deleted(rec.server().deleted());
  rec.set_dirty(false);
  rec.clear_base();
  rec.clear_last_mutation_id();
  rec.set_acked_revision(0);
}

absl::Status Replica::Impl::Acknowledge(const std::vector<std::pair<std::string, OutboxEntry>>& batch,
                         const vigil::v1::PushResponse& response, SyncReport& report) {
  std::vector<ParkedMutation> late;
  RETURN_IF_ERROR(
      db_->Commit([&](storage::CommitContext& ctx) -> absl::Status {
           late.clear();
           std::map<std::string, LocalRecord> touched;
           std::set<std::string> held;  // records with an edit held, not applied
           for (std::size_t i = 0; i < batch.size(); ++i) {
             const auto& result = response.results(static_cast<int>(i));
             const Mutation& m = batch[i].second.mutation();
             ctx.Delete(kMeta, batch[i].first);
             auto it = touched.find(m.record_id());
             if (it == touched.end()) {
               ASSIGN_OR_RETURN(std::optional<LocalRecord> rec,
                                LoadIn<LocalRecord>(sealer_, ctx, RecordKey(m.record_id())));
               if (!rec.has_value()) continue;  // purged meanwhile
               it = touched.emplace(m.record_id(), std::move(*rec)).first;
             }
             LocalRecord& rec = it->second;
             rec.set_queued(rec.queued() > 0 ? rec.queued() - 1 : 0);
             rec.set_acked_revision(std::max(rec.acked_revision(), result.revision()));
             if (result.late_submission()) {
               // Not applied: the server holds it for the NPM unit, and
               // the parked note says so.
               held.insert(m.record_id());
               if (rec.last_mutation_id() == m.mutation_id()) rec.clear_last_mutation_id();
               ParkedMutation parked;
               *parked.mutable_mutation() = m;
               parked.set_kind("late_submission");
               parked.set_message(
                   "the visit is locked: the server keeps this edit for the NPM unit to "
                   "accept or reject");
               late.push_back(parked);
               absl::Status counter = absl::OkStatus();
               const std::uint64_t n = NextCounter(ctx, kParkSeqKey, &counter);
               RETURN_IF_ERROR(counter);
               Store(sealer_, ctx, ParkKey(n), parked);
             }
           }
           for (auto& [id, rec] : touched) {
             if (held.count(id) > 0) {
               StoreSettled(ctx, id, rec);
             } else {
               Store(sealer_, ctx, RecordKey(id), rec);
             }
           }
           return absl::OkStatus();
         })
          .status());
  for (const auto& result : response.results()) {
    ++report.pushed;
    if (result.duplicate()) ++report.duplicates;
    for (const auto& c : result.conflict_ids()) report.new_conflict_ids.push_back(c);
  }
  for (auto& p : late) report.parked.push_back(std::move(p));
  return absl::OkStatus();
}

}  // namespace vigil::client
