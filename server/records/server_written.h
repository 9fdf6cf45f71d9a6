// Fields the server alone writes ((vigil.v1.server_written), merge.proto).
#ifndef VIGIL_SERVER_RECORDS_SERVER_WRITTEN_H_
#define VIGIL_SERVER_RECORDS_SERVER_WRITTEN_H_

#include "vigil/v1/record.pb.h"

namespace vigil::server {

// Sets every server-written field of `pushed`'s kind to what `made_on` (the
// revision the edit was made on; for a create, nothing) holds: whatever a
// push carries there is the server's to write, so it is not taken, and the
// merge keeps the head's.
void KeepServerWritten(const vigil::v1::RecordBody& made_on, vigil::v1::RecordBody& pushed);

}  // namespace vigil::server

#endif  // VIGIL_SERVER_RECORDS_SERVER_WRITTEN_H_
