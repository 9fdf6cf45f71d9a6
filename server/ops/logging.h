// Structured logging: one JSON object a line on stderr, with time, level,
// event name and fields, e.g.
//   {"ts":"2026-11-28T14:00:00.123Z","level":"info","event":"server.listening","address":"127.0.0.1:7443"}
// Never log secrets: tokens, keys, record content.
#ifndef VIGIL_SERVER_OPS_LOGGING_H_
#define VIGIL_SERVER_OPS_LOGGING_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace vigil::server {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// One field of a log line; the value is rendered as a JSON string, number or
// boolean according to the constructor used.
class LogField {
 public:
  LogField(std::string_view key, std::string_view value);
  LogField(std::string_view key, const char* value);
  LogField(std::string_view key, const std::string& value);
  LogField(std::string_view key, std::int64_t value);
  LogField(std::string_view key, int value);
  LogField(std::string_view key, std::uint64_t value);
  LogField(std::string_view key, bool value);
  LogField(std::string_view key, const absl::Status& status);

  const std::string& json() const { return json_; }  // "key":value

 private:
  std::string json_;
};

// Parses "debug", "info", "warn" or "error"; InvalidArgument otherwise.
absl::Status SetLogLevel(std::string_view level);

void Log(LogLevel level, std::string_view event,
         std::initializer_list<LogField> fields = {});

inline void LogInfo(std::string_view event, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kInfo, event, f);
}
inline void LogWarn(std::string_view event, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kWarn, event, f);
}
inline void LogError(std::string_view event, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kError, event, f);
}

}  // namespace vigil::server

#endif  // VIGIL_SERVER_OPS_LOGGING_H_
