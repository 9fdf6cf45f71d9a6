#include "server/records/record_store.h"

#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/error_reason.h"
#include "base/status_macros.h"
#include "datadir/restore.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "server/records/push_batch.h"
#include "server/records/mutation_error.h"
#include "server/records/tables.h"
#include "sync/ids.h"

namespace vigil::server {

using vigil::v1::Mutation;

absl::StatusOr<std::unique_ptr<RecordStore>> RecordStore::Create(storage::Storage* storage,
                                                                 const storage::KeyRing* keys,
                                                                 const AccessPolicy* policy,
                                                                 RecordStoreOptions options) {
  ASSIGN_OR_RETURN(CursorCodec cursors, CursorCodec::Load(*storage, *keys));
  ASSIGN_OR_RETURN(std::optional<std::string> point,
                   storage->Get(storage::ColumnFamily::kMeta, datadir::RestorePointKey()));
  std::optional<std::uint64_t> restored_at;
  if (point.has_value()) {
    std::uint64_t seq = 0;
    if (!absl::SimpleAtoi(*point, &seq)) return absl::DataLossError("malformed restore point");
    restored_at = seq;
  }
  return std::unique_ptr<RecordStore>(
      new RecordStore(storage, keys, policy, options, std::move(cursors), restored_at));
}

absl::StatusOr<vigil::v1::PushRequest> RecordStore::ParsePush(std::string_view wire) const {
  if (wire.size() > options_.max_batch_bytes) {
    return WithReason(absl::InvalidArgumentError(absl::StrCat(
                          "a push holds at most ", options_.max_batch_bytes, " bytes")),
                      "BATCH_TOO_LARGE");
  }
  vigil::v1::PushRequest request;
  if (request.ParseFromArray(wire.data(), static_cast<int>(wire.size()))) return request;
  // Find the mutation at fault: PushRequest.mutations is length-delimited.
  using google::protobuf::internal::WireFormatLite;
  const std::uint32_t mutation_tag = WireFormatLite::MakeTag(
      vigil::v1::PushRequest::kMutationsFieldNumber, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const std::uint8_t*>(wire.data()),
                                            static_cast<int>(wire.size()));
  int index = 0;
  while (std::uint32_t tag = in.ReadTag()) {
    if (tag != mutation_tag) {
      if (!WireFormatLite::SkipField(&in, tag)) break;
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
      if (absl::Status s = sync::Scope::Parse(m.scope()).status(); !s.ok()) {
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
  CommitPush(
      caller,
      [request = std::move(request), response](CommitTables&, PushBatch& batch) mutable {
        return batch.Apply(request, *response);
      },
      [response, done = std::move(done)](absl::Status committed) mutable {
        if (!committed.ok()) return done(committed);
        done(std::move(*response));
      });
}

void RecordStore::CommitPush(const Caller& caller, ApplyFn apply,
                             absl::AnyInvocable<void(absl::Status)> done) {
  auto touched = std::make_shared<std::map<std::string, std::uint64_t>>();
  storage_->Submit(
      [this, caller, apply = std::move(apply),
       touched](storage::CommitContext& ctx) mutable -> absl::Status {
        CommitTables tables(ctx, *keys_);
        PushBatch batch(caller, *policy_, tables, clock_, absl::Now());
        RETURN_IF_ERROR(apply(tables, batch));
        *touched = batch.touched();
        return absl::OkStatus();
      },
      [this, touched, done = std::move(done)](
          absl::StatusOr<storage::CommitResult> committed) mutable {
        if (!committed.ok()) return done(committed.status());
        if (!touched->empty() && listener_) {
          listener_(std::vector<std::pair<std::string, std::uint64_t>>(touched->begin(),
                                                                       touched->end()));
        }
        done(absl::OkStatus());
      });
}

}  // namespace vigil::server
