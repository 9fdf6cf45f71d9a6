#include "server/records/attachment_upload.h"

#include "absl/strings/str_cat.h"
#include "base/error_reason.h"

namespace vigil::server {

absl::Status AttachmentUpload::HeaderMissing() {
  return WithReason(absl::InvalidArgumentError("an upload starts with a header message"),
                    "UPLOAD_HEADER_MISSING");
}

absl::Status AttachmentUpload::HeaderRepeated() {
  return WithReason(absl::InvalidArgumentError("only chunks may follow the header"),
                    "UPLOAD_HEADER_REPEATED");
}

AttachmentDoneFn AttachmentUpload::Keep(AttachmentDoneFn done) {
  return [this, done = std::move(done)](absl::StatusOr<AttachmentState> state) mutable {
    if (state.ok()) state_ = *state;
    done(std::move(state));
  };
}

void AttachmentUpload::Begin(std::string scope, std::string sha256, std::uint64_t size,
                             AttachmentDoneFn done) {
  if (state_.has_value()) return done(HeaderRepeated());
  scope_ = scope;
  store_.Begin(caller_, std::move(scope), std::move(sha256), size, Keep(std::move(done)));
}

void AttachmentUpload::Chunk(std::uint64_t offset, std::string data, std::string chunk_sha256,
                             AttachmentDoneFn done) {
  if (!state_.has_value()) return done(HeaderMissing());
  if (state_->proof_needed) return Prove(offset, data, chunk_sha256, std::move(done));
  store_.Append(caller_, scope_, state_->sha256, offset, std::move(data), chunk_sha256,
                Keep(std::move(done)));
}

void AttachmentUpload::Prove(std::uint64_t offset, const std::string& data,
                             const std::string& chunk_sha256, AttachmentDoneFn done) {
  if (Sha256::HexOf(data) != chunk_sha256) {
    return done(WithReason(
        absl::DataLossError("chunk bytes do not match the chunk's sha256: resend the chunk"),
        "CHUNK_CORRUPT", {{"offset", std::to_string(offset)}}));
  }
  if (offset != proved_) {
    return done(WithReason(absl::FailedPreconditionError(absl::StrCat(
                               "this content is held for another scope: send all of it from "
                               "offset 0, in order (next: ",
                               proved_, ")")),
                           "CHUNK_OFFSET_MISMATCH",
                           {{"expected_offset", std::to_string(proved_)}}));
  }
  if (data.empty() || data.size() > store_.options().max_chunk_bytes ||
      proved_ + data.size() > state_->size) {
    return done(WithReason(absl::InvalidArgumentError("chunk is empty, too large or past the end"),
                           "CHUNK_PAST_END", {{"offset", std::to_string(offset)}}));
  }
  proof_.Update(data);
  proved_ += data.size();
  if (proved_ < state_->size) return done(*state_);
  if (proof_.FinalHex() != state_->sha256) {
    return done(WithReason(absl::DataLossError("the content does not match its sha256"),
                           "ATTACHMENT_HASH_MISMATCH", {{"sha256", state_->sha256}}));
  }
  store_.Link(caller_, scope_, state_->sha256, Keep(std::move(done)));
}

}  // namespace vigil::server
