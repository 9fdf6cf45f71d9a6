// vigilctl's output: results on stdout (text for people, or one JSON object a
// line with --json), errors on stderr in plain words, and the exit codes.
#ifndef VIGIL_CLIENT_VIGILCTL_OUTPUT_H_
#define VIGIL_CLIENT_VIGILCTL_OUTPUT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"
#include "grpcpp/grpcpp.h"

namespace vigil::vigilctl {

// Exit codes, the same for every command (README, "vigilctl").
inline constexpr int kExitOk = 0;
// The command could not do its work: server unreachable, refused request,
// local I/O, a store in use.
inline constexpr int kExitFailure = 1;
// Bad command line: unknown command or flag, missing or malformed argument.
inline constexpr int kExitUsage = 2;
// Done, but a person must look: conflicts remain, the audit chain is broken.
inline constexpr int kExitAttention = 3;
// No credential in the home, or the server refused it (UNAUTHENTICATED) or
// the action (PERMISSION_DENIED).
inline constexpr int kExitDenied = 4;

// A JSON object built field by field, in insertion order.
class JsonObject {
 public:
  JsonObject& Str(absl::string_view key, absl::string_view value);
  JsonObject& Int(absl::string_view key, std::int64_t value);
  JsonObject& Uint(absl::string_view key, std::uint64_t value);
  JsonObject& Bool(absl::string_view key, bool value);
  // `json` is already JSON (an object, array or literal).
  JsonObject& Raw(absl::string_view key, absl::string_view json);
  JsonObject& StrList(absl::string_view key, const std::vector<std::string>& values);
  JsonObject& ObjList(absl::string_view key, const std::vector<JsonObject>& values);
  // A message in protobuf's JSON mapping, with the .proto field names.
  JsonObject& Proto(absl::string_view key, const google::protobuf::Message& message);

  std::string str() const { return "{" + body_ + "}"; }

 private:
  void Key(absl::string_view key);
  std::string body_;
};

// A message in protobuf's JSON mapping, with the .proto field names.
std::string ProtoJson(const google::protobuf::Message& message);

// Where results go.
class Output {
 public:
  explicit Output(bool json) : json_(json) {}
  bool json() const { return json_; }

  // One result: `object` as a JSON line with --json, else `text` (a newline
  // is added when missing; empty text prints nothing).
  void Result(const JsonObject& object, absl::string_view text) const;
  // Text for people only (nothing with --json).
  void Text(absl::string_view text) const;

 private:
  bool json_;
};

// Prints "vigilctl: WHAT failed: ..." with the status code name, the
// ErrorInfo reason when there is one, and a hint in plain words, on stderr.
// Returns the exit code for it.
int Fail(absl::string_view what, const absl::Status& status);
int Fail(absl::string_view what, const grpc::Status& status);
// A bad argument found before anything was done: prints it, returns 2.
int Usage(absl::string_view message);
// The exit code for a status code.
int ExitCodeFor(absl::StatusCode code);

// "2026-11-29 10:12:03Z".
std::string ShowTime(absl::Time time);
std::string FormatTimestamp(const google::protobuf::Timestamp& ts);
// RFC 3339 in UTC ("2026-11-29T10:12:03.52Z"), for JSON.
std::string Rfc3339(absl::Time time);
std::string TimestampRfc3339(const google::protobuf::Timestamp& ts);
// "12.3 KiB".
std::string FormatBytes(std::uint64_t bytes);
// "1 record", "2 records".
std::string Plural(std::uint64_t n, absl::string_view one, absl::string_view many);
// Pads (or cuts with "…") to `width` display columns (UTF-8 aware).
std::string Pad(absl::string_view text, std::size_t width);
// Display columns of UTF-8 text.
std::size_t Columns(absl::string_view text);

}  // namespace vigil::vigilctl

#endif  // VIGIL_CLIENT_VIGILCTL_OUTPUT_H_
