// The operations socket of a vigild running on a data directory
// (DATA_DIR/vigild.sock): how vigild's operator commands and vigilctl reach
// the running server on the same host, for what must not be done beside it.
#ifndef VIGIL_DATADIR_RUNNING_SERVER_H_
#define VIGIL_DATADIR_RUNNING_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/support/status.h"
#include "datadir/data_dir.h"
#include "storage/storage.h"
#include "vigil/internal/operations.grpc.pb.h"

namespace vigil::datadir {

// A stub for the vigild serving `layout`, or nullptr when none answers
// within two seconds (not running, or a stale socket left by a crash).
std::unique_ptr<vigil::internal::OperationsService::Stub> ConnectToRunningServer(
    const DataDirLayout& layout);

// Has the running `server` back itself up into `backup_dir` (absolute)
// while it keeps committing. Errors: the server's (code kept).
absl::StatusOr<storage::BackupInfo> BackupThroughRunningServer(
    vigil::internal::OperationsService::Stub& server, const std::string& backup_dir);

// A call's status from the running server as an absl::Status (code kept),
// saying `what` failed there.
absl::Status FromRunningServer(const grpc::Status& status, std::string_view what);

}  // namespace vigil::datadir

#endif  // VIGIL_DATADIR_RUNNING_SERVER_H_
