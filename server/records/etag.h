// Etags of mutable resources (AIP-154): opaque, and changed by every
// revision of the record behind the resource.
#ifndef VIGIL_SERVER_RECORDS_ETAG_H_
#define VIGIL_SERVER_RECORDS_ETAG_H_

#include <string>

#include "base/big_endian.h"
#include "base/sha256.h"
#include "vigil/v1/record.pb.h"

namespace vigil::server {

inline std::string RecordEtag(const vigil::v1::Record& record) {
  std::string bytes = record.id();
  bytes.push_back('\0');
  AppendBigEndian64(bytes, record.revision());
  bytes.append(record.updated().mutation_id());
  return "\"" + Sha256::HexOf(bytes).substr(0, 20) + "\"";
}

}  // namespace vigil::server

#endif  // VIGIL_SERVER_RECORDS_ETAG_H_
