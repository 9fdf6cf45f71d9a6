// Etags of mutable resources (AIP-154): opaque, and changed by every
// revision of the record behind the resource.
#ifndef VIGIL_SERVER_RECORDS_ETAG_H_
#define VIGIL_SERVER_RECORDS_ETAG_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "base/big_endian.h"
#include "base/sha256.h"
#include "vigil/v1/record.pb.h"
#include "vigil/v1/sync.pb.h"

namespace vigil::server {

inline std::string RecordEtag(const vigil::v1::Record& record) {
  std::string bytes = record.id();
  bytes.push_back('\0');
  AppendBigEndian64(bytes, record.revision());
  bytes.append(record.updated().mutation_id());
  return "\"" + Sha256::HexOf(bytes).substr(0, 20) + "\"";
}

// A late submission's: changes with the head of its record (absent for a
// create) and with its decision.
inline std::string LateSubmissionEtag(const vigil::v1::Record* head,
                                      const vigil::v1::MutationResult& result) {
  std::string bytes = head != nullptr ? RecordEtag(*head) : std::string("-");
  bytes.push_back('\0');
  AppendBigEndian64(bytes, static_cast<std::uint64_t>(result.late_decision().outcome()));
  return "\"" + Sha256::HexOf(bytes).substr(0, 20) + "\"";
}

// A parallel update's: changes when it is checked.
inline std::string ParallelUpdateEtag(std::string_view id, std::string_view checked_by) {
  std::string bytes(id);
  bytes.push_back('\0');
  bytes.append(checked_by);
  return "\"" + Sha256::HexOf(bytes).substr(0, 20) + "\"";
}

}  // namespace vigil::server

#endif  // VIGIL_SERVER_RECORDS_ETAG_H_
