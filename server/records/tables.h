// The record engine's tables: every key and value encoding of the records,
// history, changes and mutations column families, and of the late queue and
// the view epochs (in kIndexes). No other file builds these keys.
//
//   records   (record_id)                       -> head Record
//   history   (record_id, revision)             -> Record as of that revision,
//                                                  for every revision but the
//                                                  head's
//   changes   (scope, seq)                      -> record_id; one entry per
//                                                  record, moved on each change
//   mutations (mutation_id)                     -> StoredMutation: the first
//                                                  result (idempotency) and,
//                                                  if merged, the body pushed
//   indexes   ("late", scope, mutation_id)      -> Mutation held for review,
//                                                  waiting for a decision
//   indexes   ("late_decided", scope, mutation_id) -> the same once decided
//                                                  (the decision is in its
//                                                  StoredMutation's result)
//   indexes   ("view_epoch", scope, principal)  -> uint64, big-endian
//   indexes   ("visit", ...), ("vx", ...), ("vq", ...): visit_index.h
//   indexes   ("conflict", ...), ("cq", ...), ("cv", ...): conflict_index.h
//   indexes   ("rx", ...): record_index.h (findings, interviews)
//   indexes   ("parallel", ...), ("pq", ...), ("pv", ...): parallel_updates.h
//
// Records of sensitive kinds (server/auth/field_visibility.h), their stored
// mutations and every held mutation are sealed with the data key
// (stored_value.h). CommitTables reads and writes inside one commit;
// SnapshotTables reads one snapshot. Neither is thread-safe; both borrow
// everything they are given.
#ifndef VIGIL_SERVER_RECORDS_TABLES_H_
#define VIGIL_SERVER_RECORDS_TABLES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "storage/storage.h"
#include "storage/value_cipher.h"
#include "vigil/internal/storage_values.pb.h"
#include "vigil/v1/record.pb.h"
#include "vigil/v1/report.pb.h"

namespace vigil::server {

// Service accounts share one view epoch per scope, under a name no user id
// can take (user ids are [a-z0-9._-]).
inline constexpr std::string_view kServicesPrincipal = "*services";

// A mutation held as a late submission.
struct HeldLate {
  vigil::v1::Mutation mutation;
  // The NPM unit decided on it (the decision is in its stored result).
  bool decided = false;
};

class CommitTables {
 public:
  CommitTables(storage::CommitContext& ctx, const storage::KeyRing& keys)
      : ctx_(ctx), keys_(keys) {}

  // The record's head, nullopt when there is none.
  absl::StatusOr<std::optional<vigil::v1::Record>> Head(std::string_view id);
  // The head of `id` when it lives in `scope`, else nullopt.
  absl::StatusOr<std::optional<vigil::v1::Record>> HeadInScope(std::string_view id,
                                                               std::string_view scope);
  // Revision `revision` of the record whose head is `head`: the head itself,
  // or from history. DataLoss when the history lacks it.
  absl::StatusOr<vigil::v1::Record> Revision(const vigil::v1::Record& head,
                                             std::uint64_t revision);
  // Makes `record` (its seq assigned) the head: the previous head, if any,
  // joins the history and its entry in the change feed moves to the new seq
  // (and scope), and the review indexes (visit_index.h, conflict_index.h)
  // follow.
  absl::Status WriteHead(const std::optional<vigil::v1::Record>& previous,
                 const vigil::v1::Record& record);

  // The stored result of mutation `id`, nullopt when it was never applied.
  absl::StatusOr<std::optional<vigil::internal::StoredMutation>> Mutation(std::string_view id);
  // Sealed when `sensitive` (the pushed body is of a sensitive kind).
  void PutMutation(std::string_view id, const vigil::internal::StoredMutation& stored,
                   bool sensitive);

  // Holds `m` in the late-submission queue of `scope` (always sealed).
  absl::Status HoldLate(std::string_view scope, const vigil::v1::Mutation& m);
  // The late submission `mutation_id` of `scope`, pending or decided, or
  // nullopt.
  absl::StatusOr<std::optional<HeldLate>> Late(std::string_view scope,
                                               std::string_view mutation_id);
  // Moves the pending `held` of `scope` among the decided ones.
  absl::Status SettleLate(std::string_view scope, const vigil::v1::Mutation& held);

  // The view epoch of `principal` in `scope` (0 when never moved).
  absl::StatusOr<std::uint64_t> ViewEpoch(std::string_view scope, std::string_view principal);
  absl::Status MoveViewEpoch(std::string_view scope, std::string_view principal);

  // Whether a record of `scope` changed in a commit after `seq`.
  absl::StatusOr<bool> ScopeChangedAfter(std::string_view scope, std::uint64_t seq);
  // The published report of visit `visit_id` (always sealed), kept for good
  // beside the late queue; nullopt when none.
  void PutPublication(std::string_view visit_id, const vigil::v1::PublishedReport& published);
  absl::StatusOr<std::optional<vigil::v1::PublishedReport>> Publication(std::string_view visit_id);

  storage::CommitContext& context() { return ctx_; }

 private:
  storage::CommitContext& ctx_;
  const storage::KeyRing& keys_;
};

// Whole-table walks through `scan`, for index rebuilds and checks: every
// stored head, decoded (DataLoss on a malformed one), and the scope of every
// held late submission.
absl::Status ScanStoredHeads(storage::RangeScanFn scan, const storage::KeyRing& keys,
                             absl::FunctionRef<absl::Status(const vigil::v1::Record&)> visit);
absl::Status ScanLateScopes(storage::RangeScanFn scan,
                            absl::FunctionRef<absl::Status(std::string_view scope)> visit);

class SnapshotTables {
 public:
  SnapshotTables(storage::Storage& storage, const storage::Snapshot& snapshot,
                 const storage::KeyRing& keys)
      : storage_(storage), snapshot_(snapshot), keys_(keys), view_(storage, &snapshot) {}

  absl::StatusOr<std::optional<vigil::v1::Record>> Head(std::string_view id);
  // The head of `id` when it lives in `scope`, else nullopt.
  absl::StatusOr<std::optional<vigil::v1::Record>> HeadInScope(std::string_view id,
                                                               std::string_view scope);

  // Visits the change feed of `scope` after `after_seq`, in commit order:
  // each change's seq and record id. `visit` returns false to stop. DataLoss
  // on a malformed entry.
  absl::Status ScanChanges(std::string_view scope, std::uint64_t after_seq,
                           absl::FunctionRef<bool(std::uint64_t seq, std::string_view id)> visit);
  // Reads the stored heads of `ids` in one batched lookup (blocks not kept in
  // the cache) and visits them in order: index into `ids` and the stored
  // value (nullopt when absent), valid during the call; decode with
  // DecodeHead. `visit` returns false to stop.
  absl::Status HeadValues(
      const std::vector<std::string>& ids,
      absl::FunctionRef<bool(std::size_t index, std::optional<std::string_view> value)> visit);
  absl::StatusOr<vigil::v1::Record> DecodeHead(std::string_view id, std::string_view value) const;

  // Revision `revision` of the record whose head is `head`: the head itself,
  // or from history. DataLoss when the history lacks it.
  absl::StatusOr<vigil::v1::Record> Revision(const vigil::v1::Record& head,
                                             std::uint64_t revision);
  // Visits revisions [from, to) of record `id` in the history, oldest first,
  // with the size of each stored value. `visit` returns false to stop.
  absl::Status ScanHistory(
      std::string_view id, std::uint64_t from, std::uint64_t to,
      absl::FunctionRef<bool(absl::StatusOr<vigil::v1::Record> revision, std::size_t bytes)>
          visit);

  absl::StatusOr<std::uint64_t> ViewEpoch(std::string_view scope, std::string_view principal);
  // The stored result of mutation `id`, nullopt when it was never applied.
  absl::StatusOr<std::optional<vigil::internal::StoredMutation>> Mutation(std::string_view id);

  // Visits the mutations held as late submissions for `scope` (every scope
  // when empty), the pending ones or the `decided` ones, in order of scope
  // and mutation id, after `after` (a position an earlier visit was given;
  // empty: from the start): each one's position, scope and mutation
  // (opened). `visit` returns false to stop.
  absl::Status ScanLate(std::string_view scope, bool decided, std::string_view after,
                        absl::FunctionRef<bool(std::string_view position, std::string_view scope,
                                               const vigil::v1::Mutation& held)>
                            visit);
  // The late submission `mutation_id` of `scope`, pending or decided, or
  // nullopt.
  absl::StatusOr<std::optional<HeldLate>> Late(std::string_view scope,
                                               std::string_view mutation_id);

  absl::StatusOr<std::optional<vigil::v1::PublishedReport>> Publication(std::string_view visit_id);

  // Rights and other point reads at the same snapshot.
  storage::ReadView& view() { return view_; }
  std::uint64_t seq() const { return snapshot_.seq(); }

 private:
  storage::Storage& storage_;
  const storage::Snapshot& snapshot_;
  const storage::KeyRing& keys_;
  storage::StorageView view_;
};

}  // namespace vigil::server

#endif  // VIGIL_SERVER_RECORDS_TABLES_H_
