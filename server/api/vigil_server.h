// A running vigild: storage, TLS, the public gRPC server (health checking,
// reflection, and the vigil.v1 services as they are added) and the operations
// socket.
#ifndef VIGIL_SERVER_API_VIGIL_SERVER_H_
#define VIGIL_SERVER_API_VIGIL_SERVER_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "server/ops/config.h"
#include "datadir/data_dir.h"

namespace vigil::server {

inline constexpr char kVigilVersion[] = "0.1.0";

class VigilServer {
 public:
  // Opens the data directory and database, loads or generates TLS material,
  // creates the first admin credential on an empty database, and starts
  // serving. Nothing in the data directory is modified when the database is
  // refused (locked, other format, corrupt).
  static absl::StatusOr<std::unique_ptr<VigilServer>> Start(const ServerConfig& config);

  virtual ~VigilServer() = default;

  // The bound TCP port (useful with port 0).
  virtual int port() const = 0;
  virtual const datadir::DataDirLayout& layout() const = 0;

  // Graceful stop: health turns NOT_SERVING, new calls are refused, in-flight
  // calls get the configured grace period, every submitted commit completes,
  // and the database is closed cleanly. Idempotent; the destructor calls it.
  virtual void Shutdown() = 0;
};

}  // namespace vigil::server

#endif  // VIGIL_SERVER_API_VIGIL_SERVER_H_
