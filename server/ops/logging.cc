#include "server/ops/logging.h"

#include "base/json.h"

#include <memory>

#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace vigil::server {
namespace {

// spdlog supplies the time, level and a thread-safe sink; the pattern makes
// each message the tail of one JSON object.
spdlog::logger& Logger() {
  static spdlog::logger* logger = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto* l = new spdlog::logger("vigil", sink);
    l->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%v})",
                   spdlog::pattern_time_type::utc);
    l->set_level(spdlog::level::info);
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return *logger;
}

std::string Key(std::string_view key) {
  std::string out;
  AppendJsonString(out, key);
  out.push_back(':');
  return out;
}

}  // namespace

LogField::LogField(std::string_view key, std::string_view value) : json_(Key(key)) {
  AppendJsonString(json_, value);
}
LogField::LogField(std::string_view key, const char* value)
    : LogField(key, std::string_view(value)) {}
LogField::LogField(std::string_view key, const std::string& value)
    : LogField(key, std::string_view(value)) {}
LogField::LogField(std::string_view key, std::int64_t value)
    : json_(Key(key) + std::to_string(value)) {}
LogField::LogField(std::string_view key, int value)
    : json_(Key(key) + std::to_string(value)) {}
LogField::LogField(std::string_view key, std::uint64_t value)
    : json_(Key(key) + std::to_string(value)) {}
LogField::LogField(std::string_view key, bool value)
    : json_(Key(key) + (value ? "true" : "false")) {}
LogField::LogField(std::string_view key, const absl::Status& status)
    : LogField(key, status.ToString()) {}

constexpr spdlog::level::level_enum ToSpdlog(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

absl::Status SetLogLevel(std::string_view level) {
  static constexpr std::pair<std::string_view, LogLevel> kNames[] = {
      {"debug", LogLevel::kDebug},
      {"info", LogLevel::kInfo},
      {"warn", LogLevel::kWarn},
      {"error", LogLevel::kError}};
  for (const auto& [name, value] : kNames) {
    if (name == level) {
      Logger().set_level(ToSpdlog(value));
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError("log level must be debug, info, warn or error, not '" +
                                    std::string(level) + "'");
}

void Log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) {
  std::string line = "\"event\":";
  AppendJsonString(line, event);
  for (const LogField& f : fields) {
    line.push_back(',');
    line += f.json();
  }
  Logger().log(ToSpdlog(level), "{}", line);
}

}  // namespace vigil::server
