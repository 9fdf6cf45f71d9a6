// One sync: attachment uploads, push, pull and rebase, receipts.
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

absl::StatusOr<SyncReport> Replica::Impl::Sync(const SyncOptions& options, const ProgressFn& progress) {
  absl::MutexLock one_at_a_time(&sync_mu_);
  ASSIGN_OR_RETURN(ClientProfile profile, Profile());
  grpc::ChannelArguments args;
  // A fresh connection per sync: a link that died while the tablet slept
  // is not reused.
  args.SetInt("grpc.use_local_subchannel_pool", 1);
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel,
                   MakeChannel(AddressOf(profile), profile.token(), args,
                               options.interceptors ? options.interceptors() : Interceptors()));
  auto stub = vigil::v1::SyncService::NewStub(channel);
  SyncReport report;
  Progress state;
  auto tell = [&](Progress::Phase phase, const std::string& scope) {
    state.phase = phase;
    state.scope = scope;
    if (progress) progress(state);
  };
  if (options.push) {
    RETURN_IF_ERROR(UploadAll(*stub, options, report, state, tell));
    RETURN_IF_ERROR(PushAll(*stub, options, report, state, tell));
    RETURN_IF_ERROR(AskLateOutcomes(*stub, options, report));
  }
  ASSIGN_OR_RETURN(const std::vector<std::string> followed, Followed());
  for (const std::string& scope : followed) {
    absl::Status pulled = PullScope(*stub, scope, options, report, state, tell);
    if (pulled.code() == absl::StatusCode::kUnauthenticated) return pulled;
    if (!pulled.ok()) report.scope_errors.emplace_back(scope, pulled);
  }
  if (options.push && (!report.recovered.empty() || !report.requeued.empty())) {
    // What the server lost in a restore goes back now, not a sync later.
    RETURN_IF_ERROR(UploadAll(*stub, options, report, state, tell));
    RETURN_IF_ERROR(PushAll(*stub, options, report, state, tell));
  }
  if (options.fetch_receipts && !profile.receipt_public_key().empty()) {
    // Scopes purged by this sync are no longer followed.
    ASSIGN_OR_RETURN(const std::vector<std::string> still, Followed());
    for (const std::string& scope : still) {
      if (sync::VisitIdOf(scope).empty()) continue;  // receipts are per visit
      tell(Progress::Phase::kReceipt, scope);
      absl::Status checked = CheckReceipt(*stub, profile, scope, options, report);
      if (checked.code() == absl::StatusCode::kUnauthenticated) return checked;
      if (!checked.ok()) report.scope_errors.emplace_back(scope, checked);
    }
  }
  tell(Progress::Phase::kDone, "");
  return report;
}

template <typename Tell>
absl::Status Replica::Impl::UploadAll(vigil::v1::SyncService::Stub& stub, const SyncOptions& options,
                       SyncReport& report, Progress& state, Tell& tell) {
  ASSIGN_OR_RETURN(auto uploads, ScanAll<UploadEntry>(sealer_, *db_, kUploadPrefix));
  std::vector<std::pair<std::string, UploadEntry>> todo;
  for (auto& [key, entry] : uploads) {
    if (!entry.uploaded() && !entry.freed()) {
      state.bytes_left += entry.size();
      todo.emplace_back(key, std::move(entry));
    }
  }
  for (auto& [key, entry] : todo) {
    tell(Progress::Phase::kUpload, entry.scope());
    absl::Status uploaded = UploadOne(stub, entry, options, report, state, tell);
    // A refusal for one scope (e.g. no longer on its team) does not stop
    // the rest: the pull still brings that scope's purge instruction.
    if (!uploaded.ok() && !Transient(static_cast<grpc::StatusCode>(uploaded.code())) &&
        uploaded.code() != absl::StatusCode::kUnauthenticated) {
      report.scope_errors.emplace_back(entry.scope(), uploaded);
      continue;
    }
    if (!uploaded.ok() && uploaded.code() != absl::StatusCode::kUnauthenticated) {
      // The link did not carry it within the retry window: it stays
      // queued (and resumes where the server's copy ends), and the edits,
      // far smaller, are still pushed.
      report.scope_errors.emplace_back(entry.scope(), uploaded);
      return absl::OkStatus();
    }
    RETURN_IF_ERROR(uploaded);
    RETURN_IF_ERROR(db_->Commit([&](storage::CommitContext& ctx) {
                         // Only its own mark: the entry may have changed
                         // meanwhile (confirmed, freed).
                         ASSIGN_OR_RETURN(auto now, LoadIn<UploadEntry>(sealer_, ctx, key));
                         if (!now.has_value()) return absl::OkStatus();  // purged
                         now->set_uploaded(true);
                         Store(sealer_, ctx, key, *now);
                         return absl::OkStatus();
                       })
                        .status());
    ++report.attachments_uploaded;
  }
  return absl::OkStatus();
}

template <typename Tell>
absl::Status Replica::Impl::UploadOne(vigil::v1::SyncService::Stub& stub, const UploadEntry& entry,
                       const SyncOptions& options, SyncReport& report, Progress& state,
                       Tell& tell) {
  const std::uint64_t left_before = state.bytes_left;
  const std::uint64_t done_before = state.bytes_done;
  grpc::Status s = Retrying(options, report, [&](grpc::ClientContext& ctx) -> grpc::Status {
    // Where the server's durable copy ends.
    vigil::v1::GetAttachmentStatusRequest ask;
    ask.set_sha256(entry.sha256());
    ask.set_scope(entry.scope());
    vigil::v1::AttachmentStatus held;
    grpc::Status asked = stub.GetAttachmentStatus(&ctx, ask, &held);
    if (!asked.ok() && asked.error_code() != grpc::StatusCode::NOT_FOUND) return asked;
    if (asked.ok() && held.complete()) return grpc::Status::OK;
    const std::uint64_t from = asked.ok() ? held.received() : 0;
    BlobReader file(sealer_, BlobPath(entry.sha256()));
    if (!file.ok()) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          "the local copy of attachment " + entry.sha256() +
                              " is missing or does not open with this store key");
    }
    grpc::ClientContext upload_ctx;
    upload_ctx.set_deadline(absl::ToChronoTime(
        absl::Now() + options.call_deadline +
        absl::Seconds(static_cast<double>(entry.size() - from) / (256 << 10))));
    vigil::v1::AttachmentStatus result;
    auto writer = stub.UploadAttachment(&upload_ctx, &result);
    vigil::v1::UploadAttachmentRequest header;
    header.mutable_header()->set_sha256(entry.sha256());
    header.mutable_header()->set_size(entry.size());
    header.mutable_header()->set_scope(entry.scope());
    bool open = writer->Write(header);
    std::string chunk(options.chunk_bytes, '\0');
    std::uint64_t offset = from;
    state.bytes_done = done_before + from;
    state.bytes_left = left_before - from;
    while (open && offset < entry.size()) {
      const std::size_t want =
          static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), entry.size() - offset));
      if (!file.Read(offset, want, &chunk)) {
        upload_ctx.TryCancel();
        writer->Finish();
        return grpc::Status(grpc::StatusCode::DATA_LOSS,
                            "the local copy of attachment " + entry.sha256() + " is short");
      }
      vigil::v1::UploadAttachmentRequest message;
      auto* c = message.mutable_chunk();
      c->set_offset(offset);
      c->set_data(chunk);
      c->set_sha256(Sha256::HexOf(c->data()));
      open = writer->Write(message);
      if (open) {
        offset += want;
        state.bytes_done = done_before + offset;
        state.bytes_left = left_before - offset;
        tell(Progress::Phase::kUpload, entry.scope());
      }
    }
    if (open) writer->WritesDone();
    grpc::Status finished = writer->Finish();
    if (finished.ok() && !result.complete()) {
      // Not all of it is held yet (another upload of the same content is
      // under way, or this one proved the content and may now resume):
      // ask again.
      return grpc::Status(grpc::StatusCode::ABORTED,
                          "the server does not hold all of attachment " + entry.sha256() + " yet");
    }
    if (finished.ok()) report.uploaded_bytes += entry.size() - from;
    return finished;
  });
  state.bytes_done = done_before + entry.size();
  state.bytes_left = left_before - entry.size();
  return ToAbsl(s);
}

template <typename Tell>
absl::Status Replica::Impl::PushAll(vigil::v1::SyncService::Stub& stub, const SyncOptions& options,
                     SyncReport& report, Progress& state, Tell& tell) {
  ASSIGN_OR_RETURN(auto all, ScanAll<OutboxEntry>(sealer_, *db_, kOutboxPrefix));
  state.records_left = all.size();
  state.records_done = 0;
  tell(Progress::Phase::kPush, "");
  // A batch that cannot cross the link within the deadline (a slow mobile
  // link) is halved, down to one mutation, rather than resent whole
  // forever: it is applied atomically, so nothing of it would ever land.
  std::size_t max_count = static_cast<std::size_t>(std::max(1, options.push_batch));
  std::size_t max_bytes = 8u << 20;  // the server takes 16 MiB per call
  while (true) {
    // The head of the outbox, by count and by bytes.
    ASSIGN_OR_RETURN(auto batch, ScanAll<OutboxEntry>(sealer_, *db_, kOutboxPrefix, max_count));
    if (batch.empty()) return absl::OkStatus();
    vigil::v1::PushRequest request;
    std::size_t bytes = 0;
    for (const auto& [key, entry] : batch) {
      bytes += entry.mutation().ByteSizeLong();
      if (request.mutations_size() > 0 && bytes > max_bytes) break;
      *request.add_mutations() = entry.mutation();
    }
    batch.resize(static_cast<std::size_t>(request.mutations_size()));
    vigil::v1::PushResponse response;
    // A batch of several that misses its deadline is halved, not resent.
    auto too_slow_for = [&](const grpc::Status& pushed) {
      return pushed.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
             request.mutations_size() > 1;
    };
    grpc::Status s = Retrying(
        options, report,
        [&](grpc::ClientContext& ctx) {
          response.Clear();
          return stub.Push(&ctx, request, &response);
        },
        too_slow_for);
    if (too_slow_for(s)) {
      // Resending is safe: whatever of it the server applied comes back
      // as duplicates.
      ++report.retries;
      max_count = std::max<std::size_t>(1, batch.size() / 2);
      max_bytes = std::max<std::size_t>(1, bytes / 2);
      continue;
    }
    if (s.ok()) {
      if (response.results_size() != request.mutations_size()) {
        return absl::InternalError("the server answered a push with the wrong number of results");
      }
      RETURN_IF_ERROR(Acknowledge(batch, response, report));
      state.records_done += batch.size();
      state.records_left -= std::min<std::uint64_t>(state.records_left, batch.size());
      tell(Progress::Phase::kPush, "");
      continue;
    }
    // A refusal that names its mutation parks that one, and the rest is
    // sent again. Anything else stops the sync with the outbox intact.
    std::size_t index = 0;
    const std::string named = ErrorMetadata(s, "index");
    if (Transient(s.error_code()) || s.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
        named.empty() || !absl::SimpleAtoi(named, &index) || index >= batch.size()) {
      return ToAbsl(s);
    }
    ParkedMutation parked;
    *parked.mutable_mutation() = batch[index].second.mutation();
    parked.set_code(static_cast<int>(s.error_code()));
    parked.set_message(s.error_message());
    parked.set_reason(ErrorReason(s));
    parked.set_kind("refused");
    RETURN_IF_ERROR(Park(batch[index].first, parked));
    report.parked.push_back(parked);
    state.records_left -= std::min<std::uint64_t>(state.records_left, 1);
  }
}

absl::Status Replica::Impl::AskLateOutcomes(vigil::v1::SyncService::Stub& stub,
                                            const SyncOptions& options, SyncReport& report) {
  ASSIGN_OR_RETURN(auto parked, ScanAll<ParkedMutation>(sealer_, *db_, kParkPrefix));
  std::vector<std::pair<std::string, ParkedMutation>> pending;
  for (auto& entry : parked) {
    if (entry.second.kind() == "late_submission") pending.push_back(std::move(entry));
  }
  const std::size_t per_batch = static_cast<std::size_t>(std::max(1, options.push_batch));
  for (std::size_t from = 0; from < pending.size(); from += per_batch) {
    const std::size_t to = std::min(pending.size(), from + per_batch);
    vigil::v1::PushRequest request;
    for (std::size_t i = from; i < to; ++i) *request.add_mutations() = pending[i].second.mutation();
    vigil::v1::PushResponse response;
    grpc::Status s = Retrying(options, report, [&](grpc::ClientContext& ctx) {
      response.Clear();
      return stub.Push(&ctx, request, &response);
    });
    if (s.error_code() == grpc::StatusCode::UNAUTHENTICATED) return ToAbsl(s);
    if (!s.ok() || response.results_size() != request.mutations_size()) {
      // Asked again at the next sync; the edits themselves were pushed.
      report.scope_errors.emplace_back("late_submissions", ToAbsl(s));
      return absl::OkStatus();
    }
    std::vector<std::pair<std::string, ParkedMutation>> decided;
    for (std::size_t i = from; i < to; ++i) {
      const vigil::v1::MutationResult& result = response.results(static_cast<int>(i - from));
      if (!result.has_late_decision()) continue;
      ParkedMutation entry = pending[i].second;
      const bool accepted = result.late_decision().outcome() == vigil::v1::LATE_OUTCOME_ACCEPTED;
      entry.set_kind(accepted ? "late_accepted" : "late_rejected");
      entry.set_message(accepted ? "the NPM unit accepted this late edit: it is applied"
                                 : "the NPM unit rejected this late edit: " +
                                       result.late_decision().reason());
      *entry.mutable_decision() = result.late_decision();
      decided.emplace_back(pending[i].first, std::move(entry));
    }
    if (decided.empty()) continue;
    RETURN_IF_ERROR(db_->Commit([&](storage::CommitContext& ctx) {
                         for (const auto& [key, entry] : decided) Store(sealer_, ctx, key, entry);
                         return absl::OkStatus();
                       })
                        .status());
    for (auto& d : decided) report.late_decided.push_back(std::move(d.second));
  }
  return absl::OkStatus();
}

template <typename Tell>
absl::Status Replica::Impl::PullScope(vigil::v1::SyncService::Stub& stub, const std::string& scope,
                       const SyncOptions& options, SyncReport& report, Progress& state,
                       Tell& tell) {
  // A cursor the server no longer accepts (its database was restored from
  // a backup, so its cursors were voided) starts the scope again, as a
  // reset: what this device holds is replaced by what the server has.
  bool restart = false;
  // The server's restore point, when it names one (see RecoverLost).
  std::optional<std::uint64_t> restored_at;
  while (true) {
    ASSIGN_OR_RETURN(std::optional<std::string> cursor, db_->Get(kMeta, CursorKey(scope)));
    vigil::v1::PullRequest request;
    request.set_scope(scope);
    request.set_cursor(restart ? "" : cursor.value_or(""));
    request.set_limit(static_cast<std::uint32_t>(options.pull_page));
    vigil::v1::PullResponse page;
    grpc::Status s = Retrying(options, report, [&](grpc::ClientContext& ctx) {
      page.Clear();
      return stub.Pull(&ctx, request, &page);
    });
    if (!restart && !request.cursor().empty() &&
        s.error_code() == grpc::StatusCode::INVALID_ARGUMENT &&
        ErrorReason(s) == "CURSOR_INVALID") {
      restart = true;
      std::uint64_t point = 0;
      if (absl::SimpleAtoi(ErrorMetadata(s, "restored_at_seq"), &point)) restored_at = point;
      continue;
    }
    RETURN_IF_ERROR(ToAbsl(s));
    if (page.purge()) return Purge(scope, report);
    const bool first_after_restart = restart;
    if (restart) {
      page.set_reset(true);
      restart = false;
    }
    RETURN_IF_ERROR(ApplyPage(scope, page, first_after_restart ? restored_at : std::nullopt));
    report.pulled += static_cast<std::uint64_t>(page.records_size());
    state.records_done += static_cast<std::uint64_t>(page.records_size());
    tell(Progress::Phase::kPull, scope);
    if (!page.has_more()) return RecoverLost(stub, scope, options, report);
  }
}

absl::Status Replica::Impl::ApplyPage(const std::string& scope, const vigil::v1::PullResponse& page,
                       std::optional<std::uint64_t> restored_at) {
  const absl::Time now = absl::Now();
  // A reset page starts the scope again in a new view: what this device
  // holds of it was shaped for the old one and goes, unless it carries
  // edits not yet sent or not yet seen in a pulled head.
  std::vector<std::string> held;
  std::vector<std::pair<std::string, UploadEntry>> uploads;
  if (page.reset()) {
    ASSIGN_OR_RETURN(held, IdsInScope(scope, ScanOf(*db_)));
  }
  if (restored_at.has_value()) {
    ASSIGN_OR_RETURN(uploads, ScanAll<UploadEntry>(sealer_, *db_, kUploadPrefix));
  }
  return db_
      ->Commit([&](storage::CommitContext& ctx) -> absl::Status {
        for (const std::string& id : held) {
          ASSIGN_OR_RETURN(std::optional<LocalRecord> rec,
                           LoadIn<LocalRecord>(sealer_, ctx, RecordKey(id)));
          if (!rec.has_value()) continue;
          const bool pending = rec->dirty() || rec->queued() > 0;
          // A revision committed after the backup the server went back
          // to may exist nowhere else: kept aside until RecoverLost has
          // seen what the server holds.
          const bool pulled_lost = restored_at.has_value() && rec->server().revision() > 0 &&
                                   rec->server().seq() > *restored_at;
          if (pending && rec->queued() == 0 && restored_at.has_value() &&
              !rec->last_mutation_id().empty()) {
            // Edits the server acknowledged, not yet seen in a pull: the
            // view is what they made, the last of them its edit.
            LocalRecord acked = *rec;
            Record& made = *acked.mutable_server();
            *made.mutable_body() = rec->body();
            made.set_deleted(rec->deleted());
            made.set_id(id);
            made.mutable_updated()->set_mutation_id(rec->last_mutation_id());
            Store(sealer_, ctx, LostPrefix(scope) + id, acked);
          } else if (pending) {
            if (pulled_lost) {
              Store(sealer_, ctx, LostPrefix(scope) + id, *rec);
              // Its queued edits were made on that revision: refused by
              // the server and parked, they go out again after it. The
              // device no longer takes the server to hold it.
              rec->clear_server();
              Store(sealer_, ctx, RecordKey(id), *rec);
            }
            continue;
          } else if (pulled_lost) {
            Store(sealer_, ctx, LostPrefix(scope) + id, *rec);
          }
          ctx.Delete(kMeta, RecordKey(id));
          ctx.Delete(kMeta, InScopeKey(scope, id));
        }
        if (restored_at.has_value()) {
          // The earliest point of any restore not yet recovered from.
          ASSIGN_OR_RETURN(std::optional<std::string> earlier,
                           ctx.Get(kMeta, RestoredKey(scope)));
          std::uint64_t point = *restored_at;
          std::uint64_t before = 0;
          if (earlier.has_value() && absl::SimpleAtoi(*earlier, &before)) {
            point = std::min(point, before);
          }
          ctx.Put(kMeta, RestoredKey(scope), std::to_string(point));
          // The receipt vouched for what the server has lost; attachments
          // it held are checked (and sent) again while copies are here.
          ctx.Delete(kMeta, ReceiptKey(scope));
          for (auto [key, entry] : uploads) {
            if (entry.scope() != scope || entry.freed()) continue;
            entry.set_uploaded(false);
            entry.set_confirmed(false);
            Store(sealer_, ctx, key, entry);
          }
        }
        // This device's clock moves past every time it has seen, so that
        // its next edit counts as made after them (a resolution of a
        // conflict it pulled wins over the versions it saw).
        vigil::internal::StoredClock stored;
        {
          absl::MutexLock lock(&clock_mu_);
          for (const Record& r : page.records()) {
            (void)clock_.Receive(r.updated().hlc(), now);
          }
          *stored.mutable_last() = clock_.last();
        }
        Store(sealer_, ctx, kClockKey, stored);
        for (const Record& r : page.records()) {
          ASSIGN_OR_RETURN(std::optional<LocalRecord> found,
                           LoadIn<LocalRecord>(sealer_, ctx, RecordKey(r.id())));
          LocalRecord rec = found.value_or(LocalRecord());
          if (found.has_value() && rec.scope() != r.scope()) {
            ctx.Delete(kMeta, InScopeKey(rec.scope(), r.id()));
          }
          rec.set_scope(r.scope());
          *rec.mutable_server() = r;
          // Server bookkeeping the app never needs.
          rec.mutable_server()->clear_field_stamps();
          rec.mutable_server()->clear_text_merges();
          if (!rec.dirty() ||
              (rec.queued() == 0 && r.revision() >= rec.acked_revision())) {
            ShowServer(rec);
          } else if (!rec.deleted()) {
            Rebase(rec, r, now);
          }
          Store(sealer_, ctx, RecordKey(r.id()), rec);
          ctx.Put(kMeta, InScopeKey(r.scope(), r.id()), "");
        }
        ctx.Put(kMeta, CursorKey(scope), page.next_cursor());
        return absl::OkStatus();
      })
      .status();
}

void Replica::Impl::Rebase(LocalRecord& rec, const Record& head, absl::Time now) {
  Mutation m;
  m.set_mutation_id(rec.last_mutation_id());
  m.set_record_id(head.id());
  m.set_base_revision(std::min(rec.base().revision(), head.revision()));
  *m.mutable_body() = rec.body();
  *m.mutable_hlc() = head.updated().hlc();
  Record base = rec.base();
  const bool has_base = base.revision() > 0 && base.revision() <= head.revision();
  absl::StatusOr<sync::ApplyOutcome> merged =
      sync::ApplyMutation(&head, has_base ? &base : nullptr, m, now);
  if (!merged.ok()) return;
  *rec.mutable_body() = merged->record.body();
  *rec.mutable_base() = head;
  rec.mutable_base()->clear_open_conflicts();
}

absl::Status Replica::Impl::CheckReceipt(vigil::v1::SyncService::Stub& stub, const ClientProfile& profile,
                          const std::string& scope, const SyncOptions& options,
                          SyncReport& report) {
  vigil::v1::GetReceiptRequest request;
  request.set_scope(scope);
  vigil::v1::Receipt receipt;
  grpc::Status s = Retrying(options, report, [&](grpc::ClientContext& ctx) {
    receipt.Clear();
    return stub.GetReceipt(&ctx, request, &receipt);
  });
  RETURN_IF_ERROR(ToAbsl(s));
  ASSIGN_OR_RETURN(vigil::v1::ReceiptManifest manifest,
                   VerifyReceipt(receipt, profile.receipt_public_key()));
  if (manifest.scope() != scope) {
    return absl::DataLossError(absl::StrCat("the receipt for ", scope, " names ",
                                            manifest.scope()));
  }
  ASSIGN_OR_RETURN(auto uploads, ScanAll<UploadEntry>(sealer_, *db_, kUploadPrefix));
  const std::set<std::string> held(manifest.attachment_sha256().begin(),
                                   manifest.attachment_sha256().end());
  RETURN_IF_ERROR(db_->Commit([&](storage::CommitContext& ctx) {
                       for (auto [key, u] : uploads) {
                         if (u.scope() == scope && u.uploaded() && !u.confirmed() &&
                             held.count(u.sha256())) {
                           u.set_confirmed(true);
                           Store(sealer_, ctx, key, u);
                         }
                       }
                       StoredReceipt stored;
                       *stored.mutable_receipt() = receipt;
                       *stored.mutable_manifest() = manifest;
                       Store(sealer_, ctx, ReceiptKey(scope), stored);
                       return absl::OkStatus();
                     })
                      .status());
  report.receipts.push_back(std::move(manifest));
  return absl::OkStatus();
}

}  // namespace vigil::client
